import { z } from '@switchboard/kit';

const urlPath = z
  .string()
  .startsWith('/')
  .refine((p) => !/[?#\s]/.test(p), 'a plain path, without query, fragment or spaces');

/**
 * The edge's web pages on its HTTP port (`edge.web` in the config): the Converse.js web chat
 * and the operator console. Both are plain routes next to the WebSocket endpoint.
 */
export const webConfigSchema = z
  .object({
    /** Serve the Converse.js web chat. */
    chatEnabled: z.boolean().default(true),
    /** Where the web chat is served; its files are under `${chatPath}converse/`. */
    chatPath: urlPath.default('/'),
    /** Domain the web chat logs into and registers on; the first of `domains` when absent. */
    chatDomain: z.string().min(1).optional(),
    /** Offer XEP-0077 registration in the web chat; follows `registration.enabled` when absent. */
    allowRegistration: z.boolean().optional(),
    /** Where the operator console is served; it is on only when `console.adminApiUrl` and `console.adminToken` are set. */
    consolePath: urlPath.default('/console'),
    console: z
      .object({
        /**
         * Base URL of the admin HTTP API (docs/admin-api.md). The console's server side
         * forwards `${consolePath}/api/*` there with the admin token, so the browser never holds it.
         */
        adminApiUrl: z.string().url().optional(),
        /** The admin API's bearer token; typing it on the console's login page also logs in. */
        adminToken: z.string().min(16).optional(),
        /** Accounts that may log into the console with their XMPP password (checked against their SCRAM credentials). */
        adminJids: z.array(z.string().min(3)).default([]),
        /**
         * Key that signs console session cookies; identical on every edge so that any edge behind
         * the load balancer accepts a session. Derived from the admin token when absent.
         */
        sessionSecret: z.string().min(32).optional(),
        /** How long a console login lasts. */
        sessionTtlSeconds: z
          .number()
          .int()
          .positive()
          .default(8 * 3600),
      })
      .prefault({})
      .refine(
        (c) => (c.adminApiUrl === undefined) === (c.adminToken === undefined),
        'console.adminApiUrl and console.adminToken go together',
      ),
  })
  .prefault({})
  .refine(
    (w) => !w.chatEnabled || w.chatPath.replace(/\/+$/, '') !== w.consolePath.replace(/\/+$/, ''),
    'chatPath and consolePath must differ',
  );

export type WebConfig = z.output<typeof webConfigSchema>;
