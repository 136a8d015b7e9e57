// irc-framework 4.14 ships no types; this covers what the gateway uses (shared/LIBRARY-NOTES.md).
declare module 'irc-framework' {
  export interface ConnectOptions {
    host: string;
    port: number;
    nick: string;
    username?: string;
    gecos?: string;
    tls?: boolean;
    rejectUnauthorized?: boolean;
    account?: { account: string; password: string };
    /** `EXTERNAL` for SASL with the TLS client certificate; PLAIN with `account` otherwise. */
    sasl_mechanism?: string;
    client_certificate?: { certificate: string; private_key: string };
    auto_reconnect?: boolean;
    ping_interval?: number;
    ping_timeout?: number;
    message_max_length?: number;
    version?: string | null;
  }

  export interface UserlistMember {
    nick: string;
    ident: string;
    hostname: string;
    /** Channel modes of the member, e.g. `['o']`. */
    modes: string[];
  }

  export interface MessageEvent {
    nick: string;
    ident: string;
    hostname: string;
    target: string;
    message: string;
    type: string;
  }

  export interface ModeChange {
    mode: string;
    param?: string;
  }

  export interface ChannelListEntry {
    channel: string;
    num_users: number;
    topic: string;
  }

  export interface IrcEvents {
    registered: [{ nick: string }];
    'socket connected': [];
    'socket close': [error?: Error];
    'socket error': [error: Error];
    close: [withError: boolean];
    'nick in use': [{ nick: string; reason: string }];
    'nick invalid': [{ nick: string; reason: string }];
    join: [{ nick: string; ident: string; hostname: string; channel: string }];
    part: [{ nick: string; channel: string; message: string }];
    quit: [{ nick: string; message: string }];
    kick: [{ kicked: string; nick: string; channel: string; message: string }];
    nick: [{ nick: string; new_nick: string }];
    mode: [{ target: string; nick: string; modes: ModeChange[] }];
    topic: [{ channel: string; topic: string; nick?: string }];
    userlist: [{ channel: string; users: UserlistMember[] }];
    privmsg: [MessageEvent];
    action: [MessageEvent];
    notice: [MessageEvent & { from_server?: boolean }];
    'channel list': [ChannelListEntry[]];
    'channel list end': [];
    'irc error': [{ error: string; channel?: string; reason?: string; nick?: string }];
    raw: [{ line: string; from_server: boolean }];
    'sasl failed': [{ reason: string; message?: string }];
    /** RPL_ENDOFWHO; `away` from the H/G flag. */
    wholist: [{ target: string; users: { nick: string; away: boolean }[] }];
    /** AWAY (away-notify), RPL_AWAY, or RPL_NOWAWAY with `self`. */
    away: [{ self: boolean; nick: string; message: string }];
    back: [{ self: boolean; nick: string; message: string }];
    invite: [{ nick: string; invited: string; channel: string }];
    /** RPL_ENDOFBANLIST with the RPL_BANLIST entries before it. */
    banlist: [{ channel: string; bans: { banned: string; banned_by?: string }[] }];
    whois: [{ nick: string; away?: string; account?: string; error?: string }];
  }

  export class Client {
    constructor(options?: Partial<ConnectOptions>);
    readonly user: { nick: string };
    readonly connected: boolean;
    readonly network: { options: Record<string, unknown> };
    connect(options: ConnectOptions): void;
    raw(line: string): void;
    quit(message?: string): void;
    list(): void;
    on<E extends keyof IrcEvents>(event: E, listener: (...args: IrcEvents[E]) => void): this;
    removeAllListeners(): this;
    connection: { end(message?: string): void; connected: boolean };
  }

  const irc: { Client: typeof Client };
  export default irc;
}
