import { prepDomainpart } from './domainpart.js';
import { JidError } from './errors.js';
import { prepLocalpart } from './localpart.js';
import { ParseCache } from './parse-cache.js';
import { prepResourcepart } from './resourcepart.js';

/** Up to twice this many recent parse results are kept; JIDs are immutable, so sharing them is safe. */
const CACHE_GENERATION = 1024;
/** Longer inputs are parsed every time, so the cache stays around a megabyte at worst. */
const CACHE_MAX_INPUT = 256;
const cache = new ParseCache<Jid>(CACHE_GENERATION);

/**
 * A JID whose parts are in normalized form (RFC 7622 §3). Absent parts are
 * ''. Instances come only from parseJid, tryParseJid and jid, so two JIDs
 * are equal exactly when their strings are equal.
 */
export class Jid {
  #string: string | undefined;
  #bare: Jid | undefined;

  private constructor(
    readonly local: string,
    readonly domain: string,
    readonly resource: string,
    string: string | undefined,
  ) {
    this.#string = string;
  }

  /** @internal Use parseJid. */
  static parse(input: string): Jid {
    if (input.length > CACHE_MAX_INPUT) return Jid.#parse(input);
    let parsed = cache.get(input);
    if (parsed === undefined) {
      parsed = Jid.#parse(input);
      cache.set(input, parsed);
    }
    return parsed;
  }

  static #parse(input: string): Jid {
    // RFC 7622 §3.1: the first '/' starts the resourcepart; the first '@' before it ends the localpart.
    const slash = input.indexOf('/');
    const head = slash === -1 ? input : input.slice(0, slash);
    const at = head.indexOf('@');
    const rawLocal = at === -1 ? '' : head.slice(0, at);
    const rawDomain = at === -1 ? head : head.slice(at + 1);
    const rawResource = slash === -1 ? '' : input.slice(slash + 1);
    if (at !== -1 && rawLocal === '') throw new JidError('localpart', 'empty', "nothing before '@'");
    if (slash !== -1 && rawResource === '') throw new JidError('resourcepart', 'empty', "nothing after '/'");
    const local = at === -1 ? '' : prepLocalpart(rawLocal);
    const domain = prepDomainpart(rawDomain);
    const resource = slash === -1 ? '' : prepResourcepart(rawResource);
    // Most addresses arrive already normalized: keep the input string instead of building a copy.
    const unchanged = local === rawLocal && domain === rawDomain && resource === rawResource;
    return new Jid(local, domain, resource, unchanged ? input : undefined);
  }

  /** @internal Use jid. */
  static of(local: string, domain: string, resource: string): Jid {
    return new Jid(
      local === '' ? '' : prepLocalpart(local),
      prepDomainpart(domain),
      resource === '' ? '' : prepResourcepart(resource),
      undefined,
    );
  }

  /** The JID without its resourcepart (RFC 7622 §3.1: a "bare JID"). */
  bare(): Jid {
    if (this.resource === '') return this;
    this.#bare ??= new Jid(this.local, this.domain, '', undefined);
    return this.#bare;
  }

  isBare(): boolean {
    return this.resource === '';
  }

  equals(other: Jid): boolean {
    return this.domain === other.domain && this.local === other.local && this.resource === other.resource;
  }

  toString(): string {
    if (this.#string === undefined) {
      let s = this.domain;
      if (this.local !== '') s = `${this.local}@${s}`;
      if (this.resource !== '') s = `${s}/${this.resource}`;
      this.#string = s;
    }
    return this.#string;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Parses and normalizes a JID; throws JidError naming the part that is not valid. */
export function parseJid(input: string): Jid {
  return Jid.parse(input);
}

/** Like parseJid, but null instead of an error. */
export function tryParseJid(input: string): Jid | null {
  try {
    return Jid.parse(input);
  } catch (error) {
    if (error instanceof JidError) return null;
    throw error;
  }
}

/** Builds a JID from its parts ('' for an absent localpart or resourcepart), normalizing each. */
export function jid(local: string, domain: string, resource = ''): Jid {
  return Jid.of(local, domain, resource);
}

/** The normalized bare JID of a JID string, as stored and compared everywhere (e.g. partition keys). */
export function bareJid(input: string): string {
  return Jid.parse(input).bare().toString();
}
