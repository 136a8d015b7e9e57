// The `switchboard` command's verbs, separate from process handling so tests can run them.
import { parseArgs } from 'node:util';
import { parseJid } from '@switchboard/jid';
import { KICK_CONDITIONS, type KickCondition } from '@switchboard/router';
import { deriveCredentials, type Store } from '@switchboard/store';
import type { AdminClient } from './admin-client.js';

const USAGE = `usage: switchboard <command>

  user add <jid> [--password P]     create an account (asks for the password when not given)
  user passwd <jid> [--password P]  set a new password
  user delete <jid>                 remove an account and all its data
  user list [domain]                list accounts
  sessions list [user]              online sessions (of one account)
  sessions kick <jid> [--condition C] [--text T]
                                    close a session (a bare JID: all of the account's)
  stats                             users, sessions, edges, routers, queues
  sms queue [--failed]              SMS queue counts, or the failed jobs
  sms retry <jobId>                 send a failed SMS job again
  sms delete <jobId>                drop a failed SMS job

Reads the same config as \`pnpm start\` (SWITCHBOARD_CONFIG, SWITCHBOARD_* variables).
Embedded: users are edited in the data dir; sessions, stats and sms ask the running
process's admin API (admin.token, ops.port). With --redis-url (or SWITCHBOARD_REDIS_URL)
everything works on the cluster's Redis directly; --sms-queue names its BullMQ queue
(default sms-twilio).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export async function runCli(
  argv: readonly string[],
  store: Store,
  out: (line: string) => void,
  readPassword: () => Promise<string>,
  admin?: () => Promise<AdminClient>,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      password: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      condition: { type: 'string' },
      text: { type: 'string' },
      failed: { type: 'boolean' },
      'redis-url': { type: 'string' },
      'sms-queue': { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.help === true || positionals.length === 0) {
    out(USAGE);
    return;
  }
  const [noun, verb, target] = positionals;
  if (noun === 'sessions' || noun === 'stats' || noun === 'sms') {
    if (admin === undefined) throw new UsageError(`${noun} needs a running Switchboard or --redis-url`);
    const client = await admin();
    try {
      await runAdminCommand(noun, verb, target, values, client, out);
    } finally {
      await client.close();
    }
    return;
  }
  if (noun !== 'user') throw new UsageError(`unknown command "${noun}"`);
  const account = (): string => {
    if (target === undefined) throw new UsageError(`user ${verb} needs a JID`);
    const jid = parseJid(target);
    if (jid.local === '' || jid.resource !== '')
      throw new UsageError(`"${target}" is not a bare JID of the form user@domain`);
    return jid.toString();
  };
  const password = async (): Promise<string> => values.password ?? (await readPassword());
  switch (verb) {
    case 'add': {
      const jid = account();
      await store.accounts.create(jid, await deriveCredentials(await password()));
      out(`created ${jid}`);
      return;
    }
    case 'passwd': {
      const jid = account();
      await store.accounts.setCredentials(jid, await deriveCredentials(await password()));
      out(`password changed for ${jid}`);
      return;
    }
    case 'delete': {
      const jid = account();
      if (!(await store.accounts.delete(jid))) throw new UsageError(`no account ${jid}`);
      out(`deleted ${jid}`);
      return;
    }
    case 'list': {
      let after: string | undefined;
      for (;;) {
        const page = await store.accounts.list({
          ...(target === undefined ? {} : { domain: target }),
          ...(after === undefined ? {} : { after }),
          limit: 500,
        });
        for (const jid of page) out(jid);
        if (page.length < 500) return;
        after = page[page.length - 1];
      }
    }
    default:
      throw new UsageError(`unknown user command "${String(verb)}"`);
  }
}

async function runAdminCommand(
  noun: 'sessions' | 'stats' | 'sms',
  verb: string | undefined,
  target: string | undefined,
  values: { condition?: string; text?: string; failed?: boolean },
  client: AdminClient,
  out: (line: string) => void,
): Promise<void> {
  const need = (what: string): string => {
    if (target === undefined) throw new UsageError(`${noun} ${verb} needs ${what}`);
    return target;
  };
  const command = noun === 'stats' ? 'stats' : `${noun} ${verb ?? ''}`;
  switch (command) {
    case 'sessions list':
      for (const s of await client.sessions(target))
        out(
          `${s.jid}\t${s.edgeId}\t${s.available ? 'available' : 'unavailable'}\t${new Date(s.since).toISOString()}`,
        );
      return;
    case 'sessions kick': {
      const condition = values.condition;
      if (condition !== undefined && !(KICK_CONDITIONS as readonly string[]).includes(condition))
        throw new UsageError(`--condition must be one of ${KICK_CONDITIONS.join(', ')}`);
      const kicked = await client.kick(need('a JID'), condition as KickCondition | undefined, values.text);
      for (const jid of kicked) out(`kicked ${jid}`);
      return;
    }
    case 'stats': {
      const stats = await client.stats();
      out(`users\t${stats.users}`);
      out(`sessions\t${stats.sessions}`);
      out(`edges\t${stats.edges}`);
      out(`routers\t${stats.routers}`);
      out(`route stream entries\t${stats.routeStreams.length}`);
      out(`route stream pending\t${stats.routeStreams.pending}`);
      if (stats.sms !== null) for (const [state, n] of Object.entries(stats.sms)) out(`sms ${state}\t${n}`);
      return;
    }
    case 'sms queue': {
      if (values.failed === true) {
        for (const job of await client.smsFailed(1000))
          out(`${job.id}\t${job.from} -> ${job.to}\t${job.attempts} attempts\t${job.reason}`);
        return;
      }
      const { domain, queue } = await client.smsQueue();
      out(`domain\t${domain}`);
      for (const [state, n] of Object.entries(queue)) out(`${state}\t${n}`);
      return;
    }
    case 'sms retry': {
      const id = need('a job id');
      await client.smsRetry(id);
      out(`retrying ${id}`);
      return;
    }
    case 'sms delete': {
      const id = need('a job id');
      await client.smsDelete(id);
      out(`deleted ${id}`);
      return;
    }
    default:
      throw new UsageError(`unknown command "${command.trim()}"`);
  }
}
