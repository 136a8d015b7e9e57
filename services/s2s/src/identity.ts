import { checkServerIdentity, type TLSSocket } from 'node:tls';

/**
 * Whether the peer's certificate chains to a trusted CA and names `domain`
 * (RFC 6125 §6 as applied to XMPP by RFC 7590 §3.2 and RFC 6120 §13.7.2.1).
 * Node's checkServerIdentity matches DNS-ID SANs with the left-most wildcard rule.
 */
export function certificateNames(socket: TLSSocket, domain: string): boolean {
  if (!chainVerified(socket)) return false;
  const cert = socket.getPeerCertificate();
  if (Object.keys(cert).length === 0) return false;
  return checkServerIdentity(domain, cert) === undefined;
}

/**
 * `authorized` is set only on sockets a tls.Server or tls.connect made; a
 * socket upgraded in place by STARTTLS on the receiving side asks OpenSSL's
 * verify result itself, as tls.Server does (lib/_tls_wrap.js onServerSocketSecure).
 */
function chainVerified(socket: TLSSocket): boolean {
  if (socket.authorized) return true;
  const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  return (
    handle?.verifyError !== undefined && handle.verifyError() === null && socket.getPeerCertificate() !== null
  );
}
