import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '@switchboard/kit';
import type { Store } from '@switchboard/store';
import { registerChat } from './chat.js';
import type { WebConfig } from './config.js';
import { registerConsole } from './console/routes.js';

export { webConfigSchema, type WebConfig } from './config.js';

export interface WebOptions {
  readonly web: WebConfig;
  /** Domains the edge serves; the first is the web chat's unless `web.chatDomain` says otherwise. */
  readonly domains: readonly string[];
  /** XEP-0077 registration is open on this edge. */
  readonly registrationEnabled: boolean;
  /** The edge's WebSocket endpoint as a client that made this request reaches it. */
  readonly websocketUrl: (request: FastifyRequest) => string;
  /** Console logins of admin accounts check their password against the store's SCRAM credentials. */
  readonly store: Store;
  readonly logger: Logger;
}

/** Mounts the web chat and the operator console on the edge's HTTP server (issue 13). */
export async function registerWeb(app: FastifyInstance, options: WebOptions): Promise<void> {
  const { web } = options;
  if (web.chatEnabled) {
    await registerChat(app, {
      path: web.chatPath,
      domain: web.chatDomain ?? options.domains[0] ?? 'localhost',
      allowRegistration: options.registrationEnabled && (web.allowRegistration ?? true),
      websocketUrl: options.websocketUrl,
    });
  }
  const { adminApiUrl, adminToken } = web.console;
  if (adminApiUrl !== undefined && adminToken !== undefined) {
    await registerConsole(app, {
      path: web.consolePath,
      adminApiUrl,
      adminToken,
      adminJids: web.console.adminJids,
      sessionSecret: web.console.sessionSecret,
      sessionTtlSeconds: web.console.sessionTtlSeconds,
      store: options.store,
      logger: options.logger,
    });
  }
}
