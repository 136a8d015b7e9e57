import { fastify } from 'fastify';
import { describe, expect, it } from 'vitest';
import { guardAdminScope, tokenMatches } from './admin-scope.js';

class Refused extends Error {}

async function app() {
  const server = fastify();
  await server.register(
    (scope, _opts, done) => {
      guardAdminScope(scope, {
        token: 'sekrit',
        known: (error) => (error instanceof Refused ? { status: 409, code: 'conflict' } : undefined),
        failureMessage: 'test request failed',
      });
      scope.get('/refused', () => {
        throw new Refused('already there');
      });
      scope.get('/broken', () => {
        throw new Error('database password is hunter2');
      });
      scope.get<{ Querystring: { n: number } }>(
        '/typed',
        {
          schema: {
            querystring: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
          },
        },
        (request) => ({ n: request.query.n }),
      );
      done();
    },
    { prefix: '/admin' },
  );
  server.get('/open', () => 'outside the scope');
  return server;
}

const auth = { authorization: 'Bearer sekrit' };

describe('the admin scope guard', () => {
  it('matches only the exact bearer token', () => {
    expect(tokenMatches('Bearer sekrit', 'sekrit')).toBe(true);
    expect(tokenMatches('Bearer sekrit2', 'sekrit')).toBe(false);
    expect(tokenMatches('bearer sekrit', 'sekrit')).toBe(false);
    expect(tokenMatches(undefined, 'sekrit')).toBe(false);
  });

  it('answers 401 with a Bearer challenge without the token, inside the scope only', async () => {
    const server = await app();
    const denied = await server.inject({ url: '/admin/typed?n=1' });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="switchboard-admin"');
    expect(denied.json()).toEqual({ error: 'unauthorized', message: 'a valid admin token is required' });
    expect((await server.inject({ url: '/open' })).statusCode).toBe(200);
    expect((await server.inject({ url: '/admin/typed?n=1', headers: auth })).json()).toEqual({ n: 1 });
    await server.close();
  });

  it('maps known errors, answers 400 to invalid input and 500 without details to the rest', async () => {
    const server = await app();
    const refused = await server.inject({ url: '/admin/refused', headers: auth });
    expect([refused.statusCode, refused.json()]).toEqual([
      409,
      { error: 'conflict', message: 'already there' },
    ]);
    const invalid = await server.inject({ url: '/admin/typed?n=x', headers: auth });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json<{ error: string }>().error).toBe('bad-request');
    const broken = await server.inject({ url: '/admin/broken', headers: auth });
    expect([broken.statusCode, broken.json()]).toEqual([
      500,
      { error: 'internal', message: 'internal error' },
    ]);
    await server.close();
  });
});
