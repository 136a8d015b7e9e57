import { AccountExistsError, AccountNotFoundError, type Store } from '@switchboard/store';
import { JidError, prepLocalpart } from '@switchboard/jid';
import type { Element } from '@switchboard/xml';
import { xml } from '@switchboard/xml';
import { SaslPrepError, deriveCredentials } from '../sasl/index.js';
import { StanzaError } from './stanza.js';

/** XEP-0077 namespaces. */
export const REGISTER_NS = 'jabber:iq:register';
export const REGISTER_FEATURE_NS = 'http://jabber.org/features/iq-register';

/** XEP-0077 §3.1 Example 2: the fields this server needs. */
export function registrationForm(): Element {
  return xml(
    'query',
    { xmlns: REGISTER_NS },
    xml('instructions', {}, 'Choose a username and password for use with this service.'),
    xml('username'),
    xml('password'),
  );
}

/** XEP-0077 §3.1 Example 3 when the requester is already registered: `<registered/>` and the username. */
export function registeredForm(localpart: string): Element {
  return xml(
    'query',
    { xmlns: REGISTER_NS },
    xml('registered'),
    xml('username', {}, localpart),
    xml('password'),
  );
}

interface Fields {
  username: string;
  password: string;
}

/** The username and password of a submitted form; not-acceptable when either is missing (XEP-0077 §3.1). */
export function submittedFields(query: Element): Fields {
  const username = query.getChildText('username')?.trim() ?? '';
  const password = query.getChildText('password') ?? '';
  if (username === '' || password === '')
    throw new StanzaError('not-acceptable', 'username and password are required');
  return { username, password };
}

/** XEP-0077 §3.1: creates `username@domain`; conflict when it exists. Returns the normalized localpart. */
export async function createAccount(
  store: Store,
  domain: string,
  fields: Fields,
  iterations?: number,
): Promise<string> {
  let localpart: string;
  try {
    localpart = prepLocalpart(fields.username);
  } catch (error) {
    if (error instanceof JidError)
      throw new StanzaError('not-acceptable', 'the username is not a valid JID localpart');
    throw error;
  }
  const credentials = await derive(fields.password, iterations);
  try {
    await store.accounts.create(`${localpart}@${domain}`, credentials);
  } catch (error) {
    if (error instanceof AccountExistsError) throw new StanzaError('conflict', 'the username is taken');
    throw error;
  }
  return localpart;
}

/** XEP-0077 §3.3: a password change for the authenticated account. */
export async function changePassword(
  store: Store,
  bareJid: string,
  localpart: string,
  fields: Fields,
  iterations?: number,
): Promise<void> {
  let named: string;
  try {
    named = prepLocalpart(fields.username);
  } catch {
    throw new StanzaError('bad-request', 'the username is not a valid JID localpart');
  }
  // XEP-0077 §3.3: only the account of this stream may change its password.
  if (named !== localpart) throw new StanzaError('not-allowed', 'the username is not this account');
  const credentials = await derive(fields.password, iterations);
  try {
    await store.accounts.setCredentials(bareJid, credentials);
  } catch (error) {
    if (error instanceof AccountNotFoundError)
      throw new StanzaError('not-allowed', 'the account no longer exists');
    throw error;
  }
}

async function derive(password: string, iterations: number | undefined) {
  try {
    return await deriveCredentials(password, iterations === undefined ? {} : { iterations });
  } catch (error) {
    if (error instanceof SaslPrepError)
      throw new StanzaError('not-acceptable', 'the password is not allowed');
    throw error;
  }
}
