// A plain IRC client (irc-framework) as the other side of the gateway's tests.
import irc, { type Client, type IrcEvents } from 'irc-framework';

export interface IrcEvent<E extends keyof IrcEvents = keyof IrcEvents> {
  readonly name: E;
  readonly data: IrcEvents[E][0];
}

const WATCHED = [
  'join',
  'part',
  'quit',
  'kick',
  'nick',
  'mode',
  'topic',
  'privmsg',
  'action',
  'notice',
  'userlist',
  'away',
  'back',
  'invite',
  'whois',
] as const satisfies readonly (keyof IrcEvents)[];

export class IrcPeer {
  readonly events: IrcEvent[] = [];
  private unread: IrcEvent[] = [];
  private waiters: { test: (e: IrcEvent) => boolean; resolve: (e: IrcEvent) => void }[] = [];

  private constructor(readonly client: Client) {}

  static async connect(port: number, nick: string): Promise<IrcPeer> {
    const client = new irc.Client();
    const peer = new IrcPeer(client);
    for (const name of WATCHED) {
      client.on(name, (data: IrcEvents[typeof name][0]) => peer.push({ name, data }));
    }
    const registered = new Promise<void>((resolve, reject) => {
      client.on('registered', () => resolve());
      client.on('close', () => reject(new Error(`${nick} could not connect`)));
    });
    client.connect({ host: '127.0.0.1', port, nick, username: nick, gecos: nick, auto_reconnect: false });
    await registered;
    return peer;
  }

  private push(event: IrcEvent): void {
    this.events.push(event);
    const waiter = this.waiters.find((w) => w.test(event));
    if (waiter === undefined) {
      this.unread.push(event);
      return;
    }
    this.waiters.splice(this.waiters.indexOf(waiter), 1);
    waiter.resolve(event);
  }

  /** The first unread event named `name` that passes `test`, now or when it comes. */
  next<E extends keyof IrcEvents>(
    name: E,
    test: (data: IrcEvents[E][0]) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<IrcEvents[E][0]> {
    const matches = (e: IrcEvent): boolean => e.name === name && test(e.data as IrcEvents[E][0]);
    const index = this.unread.findIndex(matches);
    if (index >= 0) return Promise.resolve(this.unread.splice(index, 1)[0]!.data as IrcEvents[E][0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        test: matches,
        resolve: (e: IrcEvent) => {
          clearTimeout(timer);
          resolve(e.data as IrcEvents[E][0]);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for IRC ${name}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  raw(line: string): void {
    this.client.raw(line);
  }

  quit(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.client.connected) return resolve();
      this.client.on('close', () => resolve());
      this.client.quit('bye');
      setTimeout(resolve, 2000).unref();
    });
  }
}
