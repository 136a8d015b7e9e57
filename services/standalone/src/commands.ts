// The `switchboard` command's verbs, separate from process handling so tests can run them.
import { parseArgs } from 'node:util';
import { parseJid } from '@switchboard/jid';
import { deriveCredentials, type Store } from '@switchboard/store';

const USAGE = `usage: switchboard <command>

  user add <jid> [--password P]     create an account (asks for the password when not given)
  user passwd <jid> [--password P]  set a new password
  user delete <jid>                 remove an account and all its data
  user list [domain]                list accounts

Reads the same config as \`pnpm start\` (SWITCHBOARD_CONFIG, SWITCHBOARD_* variables).`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export async function runCli(
  argv: readonly string[],
  store: Store,
  out: (line: string) => void,
  readPassword: () => Promise<string>,
): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { password: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help === true || positionals.length === 0) {
    out(USAGE);
    return;
  }
  const [noun, verb, target] = positionals;
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
