#!/usr/bin/env node
// `pnpm switchboard user add alice@localhost`: account administration on the
// embedded store (the same file `pnpm start` uses).
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { JidError } from '@switchboard/jid';
import { loadConfig, ConfigError, formatIssues } from '@switchboard/kit';
import { openEmbeddedStore, AccountExistsError } from '@switchboard/store';
import { runCli, UsageError } from './commands.js';
import { standaloneConfigSchema } from './config.js';

async function promptPassword(): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  try {
    const first = await rl.question('password: ');
    if (!process.stdin.isTTY) return first;
    const again = await rl.question('again: ');
    if (first !== again) throw new UsageError('the passwords differ');
    return first;
  } finally {
    rl.close();
  }
}

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(standaloneConfigSchema);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: invalid configuration\n${formatIssues(err.issues)}\n`);
      return 1;
    }
    throw err;
  }
  const store = openEmbeddedStore({ path: join(config.dataDir, 'switchboard.db') });
  try {
    await runCli(process.argv.slice(2), store, (line) => process.stdout.write(`${line}\n`), promptPassword);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof JidError || err instanceof AccountExistsError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    await store.close();
  }
}

process.exitCode = await main();
