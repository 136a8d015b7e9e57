import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tryParseJid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import type { Store } from '@switchboard/store';
import type { Html } from '../html.js';
import { AdminClient, type AdminResult } from './admin-client.js';
import { CONSOLE_SCRIPT, CONSOLE_STYLE } from './assets.js';
import {
  componentsBody,
  ircBody,
  layout,
  loginPage,
  metricsBody,
  overviewBody,
  smsBody,
  usersBody,
  type Component,
  type FailedJob,
  type Overview,
  type PageContext,
  type Session,
  type Stats,
} from './pages.js';
import {
  LoginFailures,
  SessionSigner,
  checkAccountPassword,
  safeEqual,
  type ConsoleSession,
} from './session.js';

export interface ConsoleOptions {
  readonly path: string;
  readonly adminApiUrl: string;
  readonly adminToken: string;
  readonly adminJids: readonly string[];
  readonly sessionSecret: string | undefined;
  readonly sessionTtlSeconds: number;
  readonly store: Store;
  readonly logger: Logger;
}

const SESSION_COOKIE = 'switchboard_console';
const LOGIN_COOKIE = 'switchboard_console_login';
const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD']);
const PROXIED_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

/** The pages forbid everything the console does not itself need. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * The operator console (issue 13). Pages are rendered on the server from the admin HTTP API
 * (docs/admin-api.md); actions in the browser go to `${path}/api/*`, which this server forwards to
 * the API with the admin token: the browser holds only a session cookie, never the token.
 */
export async function registerConsole(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const base = options.path.replace(/\/+$/, '');
  const cookiePath = base === '' ? '/' : base;
  const signer = new SessionSigner(options.sessionSecret, options.adminToken);
  const admin = new AdminClient(options.adminApiUrl, options.adminToken);
  const failures = new LoginFailures();
  const adminJids = new Set(
    options.adminJids
      .map((j) => tryParseJid(j)?.bare().toString())
      .filter((j): j is string => j !== undefined),
  );
  const ttlMs = options.sessionTtlSeconds * 1000;
  const logger = options.logger.child({ component: 'console' });

  const cookieOptions = {
    path: cookiePath,
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
  } as const;

  const sessionOf = (request: FastifyRequest): ConsoleSession | null =>
    signer.verify(request.cookies[SESSION_COOKIE]);

  /**
   * A state-changing request must come from a page of this origin: the browser's own Origin and
   * Sec-Fetch-Site headers (when sent) must say so. The CSRF token is checked besides this.
   */
  const sameOrigin = (request: FastifyRequest): boolean => {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return false;
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    try {
      return new URL(origin).host === request.host;
    } catch {
      return false;
    }
  };

  const forbidden = (reply: FastifyReply, message: string) =>
    reply.code(403).type('application/json').send({ error: 'forbidden', message });

  const renderPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    session: ConsoleSession,
    current: string,
    title: string,
    body: Html,
  ) => {
    const ctx: PageContext = { base, csrf: signer.csrfToken(session), subject: session.subject };
    return reply.type('text/html; charset=utf-8').send(layout(ctx, current, title, body));
  };

  await app.register(async (scope) => {
    await scope.register(fastifyCookie);
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 8192 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.addHook('onSend', (_request, reply, payload, done) => {
      void reply
        .header('cache-control', 'no-store')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-frame-options', 'DENY')
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'same-origin');
      done(null, payload);
    });

    scope.get(`${base}/assets/console.js`, (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').send(CONSOLE_SCRIPT),
    );
    scope.get(`${base}/assets/console.css`, (_request, reply) =>
      reply.type('text/css; charset=utf-8').send(CONSOLE_STYLE),
    );

    const showLogin = (reply: FastifyReply, status: number, error?: string) => {
      const preLogin = randomBytes(16).toString('base64url');
      return reply
        .code(status)
        .setCookie(LOGIN_COOKIE, preLogin, { ...cookieOptions, maxAge: 3600 })
        .type('text/html; charset=utf-8')
        .send(
          loginPage({
            base,
            loginToken: signer.loginToken(preLogin),
            allowAccounts: adminJids.size > 0,
            ...(error === undefined ? {} : { error }),
          }),
        );
    };

    scope.get(`${base}/login`, (request, reply) => {
      if (sessionOf(request) !== null) return reply.redirect(`${base}/`, 303);
      return showLogin(reply, 200);
    });

    scope.post(`${base}/login`, async (request, reply) => {
      const form = (request.body ?? {}) as Record<string, unknown>;
      const field = (name: string): string => (typeof form[name] === 'string' ? form[name] : '');
      const preLogin = request.cookies[LOGIN_COOKIE];
      // Login CSRF: the form's token must match the cookie this browser got with the form.
      if (
        !sameOrigin(request) ||
        preLogin === undefined ||
        !safeEqual(field('csrf'), signer.loginToken(preLogin))
      ) {
        return showLogin(reply, 403, 'The login form expired or came from another site; try again.');
      }
      const ip = request.ip;
      if (failures.blocked(ip)) return showLogin(reply, 429, 'Too many failed logins; wait a while.');
      let subject: string | null = null;
      const token = field('token');
      if (token !== '') {
        if (safeEqual(token, options.adminToken)) subject = 'token';
      } else if (adminJids.size > 0) {
        const jid = tryParseJid(field('jid'))?.bare().toString();
        const valid = await checkAccountPassword(options.store, jid ?? '', field('password'));
        if (jid !== undefined && adminJids.has(jid) && valid) subject = jid;
      }
      if (subject === null) {
        failures.fail(ip);
        logger.warn({ ip }, 'console login refused');
        return showLogin(reply, 401, token !== '' ? 'Wrong token.' : 'Wrong account or password.');
      }
      failures.succeed(ip);
      logger.info({ ip, subject }, 'console login');
      const issued = signer.issue(subject, ttlMs);
      return reply
        .setCookie(SESSION_COOKIE, issued.cookie, { ...cookieOptions, maxAge: options.sessionTtlSeconds })
        .clearCookie(LOGIN_COOKIE, cookieOptions)
        .redirect(`${base}/`, 303);
    });

    scope.post(`${base}/logout`, (request, reply) => {
      const session = sessionOf(request);
      if (session === null) return reply.code(204).send();
      if (!sameOrigin(request) || !signer.checkCsrf(session, header(request, CSRF_HEADER))) {
        return forbidden(reply, 'missing or wrong CSRF token');
      }
      return reply.clearCookie(SESSION_COOKIE, cookieOptions).code(204).send();
    });

    /** A page behind the login: its body is rendered from what the API answers. */
    const page = (path: string, title: string, load: (request: FastifyRequest) => Promise<Html>): void => {
      scope.get(`${base}${path === '' ? '/' : path}`, async (request, reply) => {
        const session = sessionOf(request);
        if (session === null) return reply.redirect(`${base}/login`, 303);
        return renderPage(request, reply, session, path, title, await load(request));
      });
    };
    if (base !== '') scope.get(base, (_request, reply) => reply.redirect(`${base}/`, 303));

    page('', 'Cluster overview', async () => {
      const [overview, stats] = await Promise.all([
        admin.get<Overview>('/overview'),
        admin.get<Stats>('/stats'),
      ]);
      return overviewBody(overview, stats);
    });
    page('/users', 'Users', async (request) => {
      const q = request.query as Record<string, unknown>;
      const query = typeof q['query'] === 'string' ? q['query'] : '';
      const after = typeof q['after'] === 'string' ? q['after'] : '';
      const params = new URLSearchParams({ limit: '100' });
      if (query !== '') params.set('query', query);
      if (after !== '') params.set('after', after);
      const [users, sessions] = await Promise.all([
        admin.get<{ users?: string[]; next?: string | null }>(`/users?${params.toString()}`),
        admin.get<{ sessions?: Session[] }>('/sessions?limit=1000'),
      ]);
      return usersBody(base, query, users, sessions);
    });
    page('/sms', 'SMS', async (request) => {
      const q = request.query as Record<string, unknown>;
      const text = (name: string): string => (typeof q[name] === 'string' ? q[name].trim() : '');
      const lookups = {
        registration: text('registration'),
        optOutNumber: text('optOutNumber'),
        optOutOwn: text('optOutOwn'),
      };
      const overview = await admin.get<{ domain?: string; queue?: Record<string, number> }>('/sms');
      const skipped: AdminResult<never> = {
        ok: false,
        status: overview.status,
        error: overview.ok ? '' : overview.error,
        message: '',
      };
      if (!overview.ok && overview.error === 'sms-not-configured') {
        return smsBody(base, lookups, overview, skipped, skipped, skipped);
      }
      const [jobs, registrations, optOuts] = await Promise.all([
        admin.get<{ jobs?: FailedJob[] }>('/sms/jobs?state=failed&limit=200'),
        admin.get<{ registrations?: { jid: string; number: string }[] }>(
          `/sms/registrations${registrationQuery(lookups.registration)}`,
        ),
        admin.get<{ optOuts?: { number: string; own: string }[] }>(
          `/sms/opt-outs${
            lookups.optOutNumber !== '' && lookups.optOutOwn !== ''
              ? `?${new URLSearchParams({ number: lookups.optOutNumber, own: lookups.optOutOwn }).toString()}`
              : ''
          }`,
        ),
      ]);
      return smsBody(base, lookups, overview, jobs, registrations, optOuts);
    });
    page('/irc', 'IRC connections', async () => ircBody(await admin.get('/irc/connections')));
    page('/components', 'Component connections', async () =>
      componentsBody(await admin.get<{ components?: Component[] }>('/components')),
    );
    page('/metrics', 'Live metrics', () => Promise.resolve(metricsBody()));

    // The API, for the pages' script: same origin, the session cookie, and for changes the CSRF token.
    scope.route({
      method: [...PROXIED_METHODS],
      url: `${base}/api/*`,
      handler: async (request, reply) => {
        const session = sessionOf(request);
        if (session === null) {
          return reply
            .code(401)
            .type('application/json')
            .send({ error: 'unauthorized', message: 'log in first' });
        }
        if (!SAFE_METHODS.has(request.method)) {
          if (!sameOrigin(request)) return forbidden(reply, 'cross-origin request refused');
          if (!signer.checkCsrf(session, header(request, CSRF_HEADER))) {
            return forbidden(reply, 'missing or wrong CSRF token');
          }
        }
        const rest = request.url.slice(`${base}/api`.length);
        // Only paths below the API's base: no dot segments, no scheme-relative tricks.
        if (!/^\/[A-Za-z0-9._~%/-]*(\?.*)?$/.test(rest) || /(^|\/)\.\.?(\/|\?|$)|\/\/|%2e%2e/i.test(rest)) {
          return reply.code(400).type('application/json').send({ error: 'bad-request', message: 'bad path' });
        }
        const body =
          request.body === undefined || request.body === null ? undefined : JSON.stringify(request.body);
        const answer = await admin.request(request.method, rest, body);
        if (!SAFE_METHODS.has(request.method)) {
          logger.info(
            {
              subject: session.subject,
              method: request.method,
              path: rest.replace(/\?.*$/, ''),
              status: answer.status,
            },
            'console action',
          );
        }
        void reply.code(answer.status);
        if (answer.contentType !== null) void reply.header('content-type', answer.contentType);
        return reply.send(answer.text);
      },
    });
  });
}

/** A number (`+…`) or a JID, as the API's `number`/`jid` query; every registration when empty. */
function registrationQuery(lookup: string): string {
  if (lookup === '') return '';
  const key = lookup.startsWith('+') ? 'number' : 'jid';
  return `?${new URLSearchParams({ [key]: lookup }).toString()}`;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
