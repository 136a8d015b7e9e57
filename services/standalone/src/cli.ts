#!/usr/bin/env node
// `pnpm switchboard user add alice@localhost`: account administration on the
// embedded store (the same file `pnpm start` uses), or on the cluster's Redis
// with --redis-url; sessions, stats and SMS queue commands (commands.ts).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { JidError } from '@switchboard/jid';
import { loadConfig, ConfigError, formatIssues } from '@switchboard/kit';
import { AdminError } from '@switchboard/router';
import { SmsAdminError } from '@switchboard/sms-gateway';
import { openEmbeddedStore, AccountExistsError, createRedisStore, type Store } from '@switchboard/store';
import { AdminRequestError, httpAdminClient, redisAdminClient, type AdminClient } from './admin-client.js';
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
    // SWITCHBOARD_REDIS_URL and the other cluster variables are not standalone settings: ignore them here.
    config = loadConfig(standaloneConfigSchema, { env: process.env, unknownEnv: 'ignore' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: invalid configuration\n${formatIssues(err.issues)}\n`);
      return 1;
    }
    throw err;
  }
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { 'redis-url': { type: 'string' }, 'sms-queue': { type: 'string' } },
    strict: false,
  });
  const redisUrl = stringOption(values['redis-url']) ?? process.env['SWITCHBOARD_REDIS_URL'];
  const smsQueue = stringOption(values['sms-queue']);
  const store: Store =
    redisUrl === undefined
      ? openEmbeddedStore({ path: join(config.dataDir, 'switchboard.db') })
      : createRedisStore({ url: redisUrl });
  const admin = (): Promise<AdminClient> => {
    if (redisUrl !== undefined)
      return Promise.resolve(
        redisAdminClient({
          url: redisUrl,
          ...(smsQueue === undefined ? {} : { smsQueue }),
          ...(process.env['SWITCHBOARD_PARTITIONS'] === undefined
            ? {}
            : { partitions: Number(process.env['SWITCHBOARD_PARTITIONS']) }),
        }),
      );
    // The running process holds sessions and the SMS queue in memory: ask its admin API.
    const token = config.admin.token;
    if (token === undefined)
      throw new UsageError('set admin.token (SWITCHBOARD_ADMIN__TOKEN) to reach the running Switchboard');
    const host = config.ops.host === '0.0.0.0' || config.ops.host === '::' ? '127.0.0.1' : config.ops.host;
    return Promise.resolve(httpAdminClient(`http://${host}:${config.ops.port}/admin/api/v1`, token));
  };
  try {
    await runCli(
      process.argv.slice(2),
      store,
      (line) => process.stdout.write(`${line}\n`),
      promptPassword,
      admin,
    );
    return 0;
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof JidError ||
      err instanceof AccountExistsError ||
      err instanceof AdminRequestError ||
      err instanceof AdminError ||
      err instanceof SmsAdminError
    ) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return 2;
    }
    throw err;
  } finally {
    await store.close();
  }
}

function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

process.exitCode = await main();
