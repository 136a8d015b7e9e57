import { createHmac } from 'node:crypto';
import { xml, type Element } from '@switchboard/xml';
import type { ExternalService, ExternalServicesConfig } from '../config.js';
import type { RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';

export const EXTDISCO_NS = 'urn:xmpp:extdisco:2';
const DEFAULT_TTL_SECONDS = 86_400;

/** Time-limited TURN credentials of the TURN REST API (coturn `use-auth-secret`): `expiry:user`, HMAC-SHA1. */
export interface TurnCredentials {
  readonly username: string;
  readonly password: string;
  /** Milliseconds since the epoch. */
  readonly expires: number;
}

export function turnCredentials(
  secret: string,
  user: string,
  nowMs: number,
  ttlSeconds: number,
): TurnCredentials {
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  const password = createHmac('sha1', secret).update(username).digest('base64');
  return { username, password, expires: expiry * 1000 };
}

/** TURN needs credentials; STUN does not (XEP-0215 §3.2, `restricted`). */
const needsCredentials = (s: ExternalService): boolean => s.type !== 'stun';

/**
 * XEP-0215 external service discovery for Jingle calls: the STUN and TURN
 * servers of the router config, with TURN credentials minted per request
 * from the shared secret. Only the server's own users are answered.
 */
export const externalServicesModule: RouterModule = {
  name: 'external-services',
  setup(core: RouterCore) {
    const config: ExternalServicesConfig | undefined = core.config.externalServices;
    if (config === undefined || config.services.length === 0) return;
    core.feature(EXTDISCO_NS);
    const ttl = config.ttlSeconds ?? DEFAULT_TTL_SECONDS;

    const serviceElement = (s: ExternalService, user: string): Element => {
      const attrs: Record<string, string | undefined> = {
        type: s.type,
        host: s.host,
        port: String(s.port),
        transport: s.transport,
        name: s.name,
      };
      if (needsCredentials(s)) {
        if (config.secret === undefined) attrs['restricted'] = '1';
        else {
          // §3.2: credentials may come with the service list, sparing a round trip.
          const c = turnCredentials(config.secret, user, core.now(), ttl);
          attrs['username'] = c.username;
          attrs['password'] = c.password;
          attrs['expires'] = new Date(c.expires).toISOString().replace(/\.\d{3}Z$/, 'Z');
        }
      }
      return xml('service', attrs);
    };

    core.iq('host', EXTDISCO_NS, (st, payload) => {
      if (st.type !== 'get') return Promise.resolve(new StanzaError('bad-request'));
      if (!core.isLocalUser(st.from.bare, st.from.domain))
        return Promise.resolve(new StanzaError('forbidden'));
      const user = st.from.bare;
      if (payload.getName() === 'services') {
        const type = payload.attrs['type'];
        const chosen = config.services.filter((s) => type === undefined || s.type === type);
        return Promise.resolve(
          xml(
            'services',
            { xmlns: EXTDISCO_NS, type },
            chosen.map((s) => serviceElement(s, user)),
          ),
        );
      }
      if (payload.getName() === 'credentials') {
        // §3.3: credentials for one service named by host and type (and port when given).
        const wanted = payload.getChild('service');
        const host = wanted?.attrs['host'];
        const type = wanted?.attrs['type'];
        const port = wanted?.attrs['port'];
        const service = config.services.find(
          (s) => s.host === host && s.type === type && (port === undefined || String(s.port) === port),
        );
        if (service === undefined) return Promise.resolve(new StanzaError('item-not-found'));
        if (!needsCredentials(service) || config.secret === undefined) {
          return Promise.resolve(
            new StanzaError('not-acceptable', undefined, 'no credentials for this service'),
          );
        }
        return Promise.resolve(xml('credentials', { xmlns: EXTDISCO_NS }, serviceElement(service, user)));
      }
      return Promise.resolve(new StanzaError('feature-not-implemented'));
    });
  },
};
