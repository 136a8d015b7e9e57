import { guardAdminScope } from '@switchboard/kit';
import type { FastifyPluginAsync } from 'fastify';
import { SmsAdminError, type SmsAdminErrorName, type SmsAdminOperations } from './operations.js';

export interface SmsAdminApiOptions {
  /** The admin token (config `admin.token`); the routes are not registered without one. */
  readonly token: string | undefined;
  readonly operations: SmsAdminOperations;
}

/** Where the cluster's sms-gateway serves these routes; the router forwards its `/sms/*` here. */
export const SMS_ADMIN_PREFIX = '/admin/api/v1/sms';

const STATUS: Record<SmsAdminErrorName, number> = {
  'bad-request': 400,
  'not-found': 404,
};

const limit = { type: 'integer', minimum: 1, maximum: 1000 } as const;
const e164 = { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}$' } as const;
const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;

/**
 * The `/sms/*` section of the admin API (docs/admin-api.md), a fastify plugin.
 * The cluster's sms-gateway registers it at SMS_ADMIN_PREFIX on its HTTP port;
 * the standalone mounts it inside the router's admin API.
 */
export const smsAdminApi: FastifyPluginAsync<SmsAdminApiOptions> = (app, { token, operations }) => {
  if (token === undefined) return Promise.resolve();
  guardAdminScope(app, {
    token,
    known: (error) =>
      error instanceof SmsAdminError ? { status: STATUS[error.code], code: error.code } : undefined,
    failureMessage: 'SMS admin request failed',
  });

  app.get('/', () => operations.summary());

  app.get<{ Querystring: { state?: 'failed'; limit?: number } }>(
    '/jobs',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { state: { type: 'string', enum: ['failed'] }, limit },
        },
      },
    },
    async (request) => ({ jobs: await operations.failedJobs(request.query.limit) }),
  );

  app.post<{ Params: { id: string } }>(
    '/jobs/:id/retry',
    { schema: { params: idParam } },
    async (request, reply) => {
      await operations.retry(request.params.id);
      return reply.code(202).send({ retried: request.params.id });
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/jobs/:id',
    { schema: { params: idParam } },
    async (request, reply) => {
      await operations.remove(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { jid?: string; number?: string } }>(
    '/registrations',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { jid: { type: 'string', minLength: 3 }, number: e164 },
        },
      },
    },
    async (request) => ({ registrations: await operations.registrations(request.query) }),
  );

  app.delete<{ Params: { jid: string } }>(
    '/registrations/:jid',
    {
      schema: {
        params: { type: 'object', required: ['jid'], properties: { jid: { type: 'string', minLength: 3 } } },
      },
    },
    async (request, reply) => {
      await operations.removeRegistration(request.params.jid);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { number?: string; own?: string } }>(
    '/opt-outs',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { number: e164, own: e164 } },
      },
    },
    async (request) => ({ optOuts: await operations.optOuts(request.query) }),
  );
  return Promise.resolve();
};
