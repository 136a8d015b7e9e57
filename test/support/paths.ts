// Paths of the checkout the tests use: its root, and the test CA with the server certificate it
// signed (test/fixtures/tls; vitest.config.ts puts the CA in NODE_EXTRA_CA_CERTS, so clients trust it).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
/** Fixed 2048-bit DH parameters (public), so a test server need not generate them at every start. */
export const TLS_DH = join(ROOT, 'test/fixtures/tls/dh2048.pem');
export const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');
export const CA_FILE = join(ROOT, 'test/fixtures/tls/ca.pem');
