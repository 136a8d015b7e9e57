import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ChannelBindingType, TlsChannel } from './types.js';

// RFC 5929 §4.1: the certificate's signature hash, with MD5 and SHA-1 replaced by SHA-256.
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Buffer, offset: number): Tlv | null {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) return null;
  let start = offset + 2;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) return null;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  return end <= der.length ? { tag, start, end } : null;
}

function decodeOid(bytes: Buffer): string {
  const head = bytes[0] ?? 0;
  const arcs = [Math.min(2, Math.floor(head / 40)), head - Math.min(2, Math.floor(head / 40)) * 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** The hash RFC 5929 §4.1 prescribes for this certificate; null when it prescribes none (e.g. Ed25519, RSASSA-PSS). */
export function endPointHashName(certificateDer: Buffer): string | null {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }
  const certificate = readTlv(certificateDer, 0);
  if (certificate?.tag !== 0x30) return null;
  const tbs = readTlv(certificateDer, certificate.start);
  if (tbs === null) return null;
  const algorithm = readTlv(certificateDer, tbs.end);
  if (algorithm?.tag !== 0x30) return null;
  const oid = readTlv(certificateDer, algorithm.start);
  if (oid?.tag !== 0x06) return null;
  return SIGNATURE_HASHES[decodeOid(certificateDer.subarray(oid.start, oid.end))] ?? null;
}

/** tls-server-end-point data (RFC 5929 §4.1), or null when the certificate's algorithm has no defined hash. */
export function serverEndPointHash(certificateDer: Buffer): Buffer | null {
  const hashName = endPointHashName(certificateDer);
  return hashName === null ? null : createHash(hashName).update(certificateDer).digest();
}

/**
 * Channel-binding data of the server side of a TLS connection and the types it supports:
 * tls-exporter only on TLS 1.3 (RFC 9266 §3, we cannot see extended master secret on 1.2),
 * tls-server-end-point when our certificate's signature algorithm defines its hash.
 */
export function channelBindingsOf(socket: TLSSocket): {
  channel: TlsChannel;
  bindings: ChannelBindingType[];
} {
  const own = socket.getCertificate();
  const der = own !== null && 'raw' in own && Buffer.isBuffer(own.raw) ? own.raw : null;
  const endPoint = der === null ? null : serverEndPointHash(der);
  const bindings: ChannelBindingType[] = [];
  if (socket.getProtocol() === 'TLSv1.3') bindings.push('tls-exporter');
  if (endPoint !== null) bindings.push('tls-server-end-point');
  if (firstFinished(socket) !== null) bindings.push('tls-unique');
  return {
    channel: {
      // RFC 9266 §2: label "EXPORTER-Channel-Binding", 32 bytes, empty context.
      exporter: () => socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
      serverEndPoint: () => {
        if (endPoint === null) throw new Error('tls-server-end-point is undefined for this certificate');
        return endPoint;
      },
      unique: () => {
        const finished = firstFinished(socket);
        if (finished === null) throw new Error('tls-unique is unavailable on this connection');
        return finished;
      },
    },
    bindings,
  };
}

/**
 * RFC 5929 §3.1 tls-unique: the first Finished message of the latest handshake —
 * the client's on a full handshake, the server's on a resumed one. TLS 1.3 leaves
 * tls-unique undefined (RFC 9266); there we follow what OpenSSL-based clients
 * compute (SSL_get_finished/SSL_get_peer_finished by the same rule), which binds
 * to this connection's transcript all the same.
 */
function firstFinished(socket: TLSSocket): Buffer | null {
  const finished = socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished();
  return finished === undefined || finished.length === 0 ? null : finished;
}
