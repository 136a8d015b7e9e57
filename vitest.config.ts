import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Test clients (@xmpp/client passes no TLS options through) trust the test CA.
// Set before the worker processes fork, which read it at start-up.
process.env['NODE_EXTRA_CA_CERTS'] = `${root}test/fixtures/tls/ca.pem`;

export default defineConfig({
  resolve: {
    // Tests run the packages from source; the built dist/ is for `node` at run time.
    // Services are imported only by the standalone composition root, through their app.ts.
    alias: [
      ...readdirSync(`${root}services`)
        .filter((name) => existsSync(`${root}services/${name}/src/app.ts`))
        .map((name) => ({ find: `@switchboard/${name}`, replacement: `${root}services/${name}/src/app.ts` })),
      { find: /^@switchboard\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
