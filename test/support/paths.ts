// Paths of the checkout the tests use: its root, and the test CA with the server certificate it
// signed (test/fixtures/tls; vitest.config.ts puts the CA in NODE_EXTRA_CA_CERTS, so clients trust it).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
export const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');
export const CA_FILE = join(ROOT, 'test/fixtures/tls/ca.pem');
