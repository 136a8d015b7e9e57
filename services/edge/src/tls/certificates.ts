import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** Where it came from, for the boot log. */
  readonly source: 'configured' | 'generated' | 'cached';
}

export interface CertificateOptions {
  /** PEM files from config; both or neither. */
  readonly keyFile?: string | undefined;
  readonly certFile?: string | undefined;
  /** Directory where a generated development certificate is kept across restarts. */
  readonly dataDir: string;
  /** Domains served; the development certificate names each and its subdomains. */
  readonly domains: readonly string[];
}

/**
 * The configured certificate, or a self-signed development certificate for the
 * served domains (generated once, kept under dataDir so clients that pinned it
 * keep working after a restart).
 */
export async function loadTlsMaterial(options: CertificateOptions): Promise<TlsMaterial> {
  if (options.keyFile !== undefined || options.certFile !== undefined) {
    if (options.keyFile === undefined || options.certFile === undefined) {
      throw new Error('tls: configure both keyFile and certFile, or neither');
    }
    const [key, cert] = await Promise.all([
      readFile(options.keyFile, 'utf8'),
      readFile(options.certFile, 'utf8'),
    ]);
    return { key, cert, source: 'configured' };
  }
  const keyPath = join(options.dataDir, 'dev-tls.key');
  const certPath = join(options.dataDir, 'dev-tls.pem');
  try {
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    if (coversDomains(cert, options.domains)) return { key, cert, source: 'cached' };
  } catch {
    // none cached yet
  }
  const { key, cert } = await generateDevelopmentCertificate(options.domains);
  await mkdir(dirname(keyPath), { recursive: true });
  await writeFile(keyPath, key, { mode: 0o600 });
  await writeFile(certPath, cert);
  return { key, cert, source: 'generated' };
}

export async function generateDevelopmentCertificate(
  domains: readonly string[],
): Promise<{ key: string; cert: string }> {
  const names = [...new Set(domains.flatMap(namesFor))];
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 825 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: domains[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...names.map((value) => ({ type: 2 as const, value })),
          { type: 7 as const, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * Our own services' default subdomains by name: a wildcard does not cover `upload.localhost`
 * (clients refuse wildcards right under a single-label name), and the upload service's HTTPS
 * port presents this certificate.
 */
const SERVICE_LABELS = ['upload', 'conference', 'sms', 'irc'];

function namesFor(domain: string): string[] {
  return [domain, `*.${domain}`, ...SERVICE_LABELS.map((label) => `${label}.${domain}`)];
}

function coversDomains(certPem: string, domains: readonly string[]): boolean {
  try {
    const cert = new X509Certificate(certPem);
    if (new Date(cert.validTo).getTime() < Date.now() + 7 * 24 * 3600 * 1000) return false;
    return domains.flatMap(namesFor).every((d) => d.startsWith('*.') || cert.checkHost(d) !== undefined);
  } catch {
    return false;
  }
}
