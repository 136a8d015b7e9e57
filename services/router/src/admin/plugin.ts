import { guardAdminScope, z } from '@switchboard/kit';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  AdminError,
  KICK_CONDITIONS,
  MAX_PAGE,
  type AdminErrorName,
  type AdminOperations,
  type KickCondition,
  type SmsQueueCounts,
} from './operations.js';

/** Config section `admin` of the router and the standalone (env `SWITCHBOARD_ADMIN__TOKEN`). */
export const adminConfigSchema = z
  .object({
    /** Bearer token of the admin API; the API does not exist without one. */
    token: z.string().min(16, 'admin.token must be at least 16 characters').optional(),
    /** Cluster: the SMS gateway's HTTP root; `/admin/api/v1/sms/*` is forwarded there. */
    smsUrl: z.string().url().optional(),
  })
  .prefault({});
export type AdminConfig = z.output<typeof adminConfigSchema>;

/** Where the `/sms/*` section comes from: routes in this process, or the SMS gateway's own API. */
export type SmsMount =
  | {
      readonly kind: 'local';
      /** Registers the SMS gateway's admin routes on `scope` under `/sms` (the scope already checks the token). */
      readonly register: (scope: FastifyInstance) => Promise<void>;
      readonly queueCounts: () => Promise<SmsQueueCounts>;
    }
  | { readonly kind: 'remote'; readonly url: string };

export interface AdminApiOptions {
  /** Undefined: the API is disabled and every path 404s. */
  readonly token: string | undefined;
  readonly operations: AdminOperations;
  readonly sms?: SmsMount;
}

export const ADMIN_API_PREFIX = '/admin/api/v1';

const STATUS: Record<AdminErrorName, number> = {
  'bad-request': 400,
  'not-found': 404,
  conflict: 409,
  'not-implemented': 501,
  'upstream-unavailable': 502,
  'sms-not-configured': 503,
};

const jidParam = {
  type: 'object',
  required: ['jid'],
  properties: { jid: { type: 'string', minLength: 3, maxLength: 3071 } },
} as const;
const limit = { type: 'integer', minimum: 1, maximum: MAX_PAGE } as const;
const password = { type: 'string', minLength: 1, maxLength: 1024 } as const;

/**
 * The admin HTTP API (docs/admin-api.md), a fastify plugin: register it with
 * `{ prefix: ADMIN_API_PREFIX }`. Encapsulated: its token check, error
 * shape and 404s apply only under the prefix.
 */
export const adminApi: FastifyPluginAsync<AdminApiOptions> = (app, options) => {
  const { token, operations, sms } = options;
  if (token === undefined) return Promise.resolve();

  guardAdminScope(app, {
    token,
    known: (error) =>
      error instanceof AdminError ? { status: STATUS[error.code], code: error.code } : undefined,
    failureMessage: 'admin API request failed',
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not-found', message: `no route ${request.method} ${request.url}` }),
  );

  app.get('/overview', () => operations.overview());

  const smsCounts = smsQueueCounts(sms, token);
  app.get('/stats', () => operations.stats(smsCounts));

  app.get<{ Querystring: { query?: string; domain?: string; after?: string; limit?: number } }>(
    '/users',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            query: { type: 'string' },
            domain: { type: 'string' },
            after: { type: 'string' },
            limit,
          },
        },
      },
    },
    (request) => operations.searchUsers(request.query),
  );

  app.post<{ Body: { jid: string; password: string } }>(
    '/users',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['jid', 'password'],
          properties: { jid: { type: 'string', minLength: 3, maxLength: 3071 }, password },
        },
      },
    },
    async (request, reply) => {
      const jid = await operations.createUser(request.body.jid, request.body.password);
      return reply.code(201).send({ jid });
    },
  );

  app.get<{ Params: { jid: string } }>('/users/:jid', { schema: { params: jidParam } }, (request) =>
    operations.getUser(request.params.jid),
  );

  app.put<{ Params: { jid: string }; Body: { password: string } }>(
    '/users/:jid/password',
    {
      schema: {
        params: jidParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['password'],
          properties: { password },
        },
      },
    },
    async (request, reply) => {
      await operations.setPassword(request.params.jid, request.body.password);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { jid: string } }>(
    '/users/:jid',
    { schema: { params: jidParam } },
    async (request, reply) => {
      await operations.deleteUser(request.params.jid);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { user?: string; limit?: number } }>(
    '/sessions',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { user: { type: 'string', minLength: 3 }, limit },
        },
      },
    },
    async (request) => ({ sessions: await operations.sessions(request.query) }),
  );

  app.post<{ Body: { jid: string; condition?: KickCondition; text?: string } }>(
    '/sessions/kick',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['jid'],
          properties: {
            jid: { type: 'string', minLength: 3, maxLength: 3071 },
            condition: { type: 'string', enum: KICK_CONDITIONS },
            text: { type: 'string', maxLength: 1024 },
          },
        },
      },
    },
    async (request, reply) => {
      const { jid, condition, text } = request.body;
      const kicked = await operations.kick(jid, condition, text);
      return reply.code(202).send({ kicked });
    },
  );

  app.get('/components', async () => ({ components: await operations.components() }));

  app.all('/irc/*', () => {
    throw new AdminError('not-implemented', 'no IRC gateway in this deployment');
  });
  app.all('/irc', () => {
    throw new AdminError('not-implemented', 'no IRC gateway in this deployment');
  });

  if (sms === undefined) {
    const none = (): never => {
      throw new AdminError('sms-not-configured', 'no SMS gateway in this deployment');
    };
    app.all('/sms', none);
    app.all('/sms/*', none);
    return Promise.resolve();
  }
  if (sms.kind === 'local') return sms.register(app);
  const forward = (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    forwardToSms(sms.url, token, request, reply);
  app.all('/sms', forward);
  app.all('/sms/*', forward);
  return Promise.resolve();
};

function smsQueueCounts(
  sms: SmsMount | undefined,
  token: string,
): (() => Promise<SmsQueueCounts | null>) | undefined {
  if (sms === undefined) return undefined;
  if (sms.kind === 'local') return sms.queueCounts;
  return async () => {
    const response = await fetch(`${trimSlash(sms.url)}${ADMIN_API_PREFIX}/sms`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) return null;
    const body = (await response.json()) as { queue?: SmsQueueCounts };
    return body.queue ?? null;
  };
}

/** Cluster: the SMS gateway serves `/admin/api/v1/sms/*` itself, with the same token. */
async function forwardToSms(
  base: string,
  token: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const path = request.url.slice(request.url.indexOf('/sms'));
  let response: Response;
  try {
    response = await fetch(`${trimSlash(base)}${ADMIN_API_PREFIX}${path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new AdminError('upstream-unavailable', `the SMS gateway did not answer: ${String(error)}`);
  }
  const body = await response.text();
  reply.code(response.status);
  const type = response.headers.get('content-type');
  if (type !== null) reply.type(type);
  return reply.send(body === '' ? undefined : body);
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
