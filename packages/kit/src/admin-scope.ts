import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';

/** Whether an `Authorization: Bearer …` header carries `token`; constant time whatever the lengths. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (\S+)$/.exec(header ?? '');
  if (match === null) return false;
  // Digests have equal length whatever the token's, so timingSafeEqual never throws.
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(match[1]!), digest(token));
}

export interface AdminScopeOptions {
  /** The admin token every request must present as `Authorization: Bearer <token>`. */
  readonly token: string;
  /** An error the API raises on purpose, as its HTTP status and `error` code; undefined for others. */
  readonly known: (error: unknown) => { readonly status: number; readonly code: string } | undefined;
  /** Logged (at error) with any other failure. */
  readonly failureMessage: string;
}

/**
 * The admin API's guard and error shape (docs/admin-api.md) on one encapsulated fastify scope:
 * 401 with `WWW-Authenticate: Bearer` without the token; `{error, message}` bodies, with the
 * known errors' statuses, 400 for validation and other client errors, and 500 (logged, nothing
 * leaked) for the rest.
 */
export function guardAdminScope(app: FastifyInstance, options: AdminScopeOptions): void {
  const { token, known, failureMessage } = options;
  app.addHook('onRequest', async (request, reply) => {
    if (!tokenMatches(request.headers.authorization, token)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="switchboard-admin"')
        .send({ error: 'unauthorized', message: 'a valid admin token is required' });
    }
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const mapped = known(error);
    if (mapped !== undefined)
      return reply.code(mapped.status).send({ error: mapped.code, message: error.message });
    if (error.validation !== undefined || (error.statusCode !== undefined && error.statusCode < 500))
      return reply.code(400).send({ error: 'bad-request', message: error.message });
    request.log.error({ err: error }, failureMessage);
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });
}
