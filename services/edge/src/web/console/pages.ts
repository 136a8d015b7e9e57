import { Html, html } from '../html.js';
import type { AdminResult } from './admin-client.js';

/** Console pages: server-rendered from the admin API's answers (docs/admin-api.md). */

export interface PageContext {
  /** The console's base path, without a trailing slash. */
  readonly base: string;
  readonly csrf: string;
  readonly subject: string;
}

export const NAV = [
  ['', 'Overview'],
  ['/users', 'Users'],
  ['/sms', 'SMS'],
  ['/irc', 'IRC'],
  ['/components', 'Components'],
  ['/metrics', 'Metrics'],
] as const;

export function layout(ctx: PageContext, current: string, title: string, body: Html): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="csrf-token" content="${ctx.csrf}" />
        <meta name="console-base" content="${ctx.base}" />
        <title>${title} · Switchboard console</title>
        <link rel="stylesheet" href="${ctx.base}/assets/console.css" />
        <script src="${ctx.base}/assets/console.js" defer></script>
      </head>
      <body>
        <header>
          <strong>Switchboard</strong>
          <nav>
            ${NAV.map(
              ([path, label]) =>
                html`<a
                  href="${ctx.base}${path === '' ? '/' : path}"
                  ${path === current ? new Html(' aria-current="page"') : ''}
                  >${label}</a
                >`,
            )}
          </nav>
          <span class="who"
            >${ctx.subject === 'token' ? 'admin token' : ctx.subject}
            <button type="button" data-api-method="POST" data-logout="${ctx.base}/logout">
              Log out
            </button></span
          >
        </header>
        <main>
          <h1>${title}</h1>
          <p id="flash" role="status" hidden></p>
          ${body}
        </main>
      </body>
    </html> `.markup;
}

export function loginPage(options: {
  base: string;
  loginToken: string;
  allowAccounts: boolean;
  error?: string;
}): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Log in · Switchboard console</title>
        <link rel="stylesheet" href="${options.base}/assets/console.css" />
      </head>
      <body class="login">
        <main>
          <h1>Switchboard console</h1>
          ${options.error === undefined ? '' : html`<p class="error" id="login-error" role="alert">${options.error}</p>`}
          <form method="post" action="${options.base}/login" id="token-login">
            <input type="hidden" name="csrf" value="${options.loginToken}" />
            <label
              >Admin token <input type="password" name="token" autocomplete="current-password" required
            /></label>
            <button type="submit">Log in</button>
          </form>
          ${
            options.allowAccounts
              ? html`<form method="post" action="${options.base}/login" id="account-login">
                  <input type="hidden" name="csrf" value="${options.loginToken}" />
                  <label
                    >Admin account
                    <input
                      type="text"
                      name="jid"
                      autocomplete="username"
                      placeholder="admin@example.com"
                      required
                  /></label>
                  <label
                    >Password <input type="password" name="password" autocomplete="current-password" required
                  /></label>
                  <button type="submit">Log in</button>
                </form>`
              : ''
          }
        </main>
      </body>
    </html> `.markup;
}

// ---- API shapes (docs/admin-api.md); fields read defensively, the API may add more ----

interface Edge {
  id: string;
  lastHeartbeat?: number;
  alive?: boolean;
  connections?: number;
  sessions?: number;
  draining?: boolean;
}
interface RouterInfo {
  id: string;
  lastHeartbeat?: number;
  alive?: boolean;
  partitions?: number[];
  pending?: number;
  lag?: number;
}
export interface Overview {
  mode?: string;
  now?: number;
  edges?: Edge[];
  routers?: RouterInfo[];
  partitions?: { total?: number; unowned?: number[] };
  redis?: { usedMemoryBytes?: number; maxMemoryBytes?: number; aofEnabled?: boolean } | null;
}
export interface Stats {
  users?: number;
  sessions?: number;
  edges?: number;
  routers?: number;
  routeStreams?: { length?: number; pending?: number };
  sms?: Record<string, number> | null;
}
export interface Session {
  jid: string;
  user?: string;
  resource?: string;
  edgeId?: string;
  sessionId?: string;
  since?: number;
  available?: boolean;
  priority?: number;
}
export interface FailedJob {
  id: string;
  to?: string;
  from?: string;
  text?: string;
  sender?: string;
  contact?: string;
  reason?: string;
  attempts?: number;
}
export interface Component {
  domain: string;
  connected?: boolean;
  consumers?: number;
  pending?: number;
  length?: number;
}

function failure(result: AdminResult<unknown>, what: string): Html | null {
  if (result.ok) return null;
  return html`<p class="unavailable" data-error="${result.error}">
    ${what}: ${result.message || result.error} (${result.error})
  </p>`;
}

function time(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit] ?? ''}`;
}

function yesNo(value: boolean | undefined): Html {
  return value === true ? html`<span class="yes">yes</span>` : html`<span class="no">no</span>`;
}

function actionButton(label: string, method: string, path: string, body?: unknown, confirm?: string): Html {
  return html`<button
    type="button"
    data-api-method="${method}"
    data-api-path="${path}"
    ${
      body === undefined ? '' : html` data-api-body="${JSON.stringify(body)}"`
    }${confirm === undefined ? '' : html` data-confirm="${confirm}"`}
  >
    ${label}
  </button>`;
}

export function overviewBody(overview: AdminResult<Overview>, stats: AdminResult<Stats>): Html {
  const o = overview.ok ? overview.body : null;
  const s = stats.ok ? stats.body : null;
  return html` ${failure(overview, 'Cluster overview unavailable')}
  ${failure(stats, 'Statistics unavailable')}
  ${
    s === null
      ? ''
      : html`<section>
          <h2>Totals</h2>
          <dl class="totals" id="totals">
            <dt>Accounts</dt>
            <dd data-stat="users">${s.users ?? ''}</dd>
            <dt>Sessions</dt>
            <dd data-stat="sessions">${s.sessions ?? ''}</dd>
            <dt>Edges</dt>
            <dd>${s.edges ?? ''}</dd>
            <dt>Routers</dt>
            <dd>${s.routers ?? ''}</dd>
            <dt>Route streams</dt>
            <dd>${s.routeStreams?.length ?? ''} entries, ${s.routeStreams?.pending ?? ''} pending</dd>
            <dt>SMS queue</dt>
            <dd>
              ${
                s.sms === null || s.sms === undefined
                  ? 'no SMS gateway'
                  : Object.entries(s.sms)
                      .map(([k, v]) => `${k} ${v}`)
                      .join(', ')
              }
            </dd>
          </dl>
        </section>`
  }
  ${
    o === null
      ? ''
      : html`<p>Mode: <strong>${o.mode ?? ''}</strong>, as of ${time(o.now)}</p>
          <section>
            <h2>Edges</h2>
            <table id="edges">
              <thead>
                <tr>
                  <th>Edge</th>
                  <th>Alive</th>
                  <th>Connections</th>
                  <th>Sessions</th>
                  <th>Draining</th>
                  <th>Last heartbeat</th>
                </tr>
              </thead>
              <tbody>
                ${(o.edges ?? []).map(
                  (e) =>
                    html`<tr data-edge="${e.id}">
                      <td>${e.id}</td>
                      <td>${yesNo(e.alive)}</td>
                      <td class="num">${e.connections ?? ''}</td>
                      <td class="num">${e.sessions ?? ''}</td>
                      <td>${yesNo(e.draining)}</td>
                      <td>${time(e.lastHeartbeat)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </section>
          <section>
            <h2>Routers</h2>
            <table id="routers">
              <thead>
                <tr>
                  <th>Router</th>
                  <th>Alive</th>
                  <th>Partitions</th>
                  <th>Pending</th>
                  <th>Lag</th>
                  <th>Last heartbeat</th>
                </tr>
              </thead>
              <tbody>
                ${(o.routers ?? []).map(
                  (r) =>
                    html`<tr data-router="${r.id}">
                      <td>${r.id}</td>
                      <td>${yesNo(r.alive)}</td>
                      <td>${(r.partitions ?? []).join(', ')}</td>
                      <td class="num">${r.pending ?? ''}</td>
                      <td class="num">${r.lag ?? ''}</td>
                      <td>${time(r.lastHeartbeat)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
            <p>
              Partitions: ${o.partitions?.total ?? ''} in all; unowned:
              ${(o.partitions?.unowned ?? []).length === 0 ? 'none' : (o.partitions?.unowned ?? []).join(', ')}
            </p>
          </section>
          <section>
            <h2>Redis</h2>
            ${
              o.redis === null || o.redis === undefined
                ? html`<p id="redis">No Redis: embedded store and in-process bus.</p>`
                : html`<p id="redis">
                    Memory used
                    ${bytes(o.redis.usedMemoryBytes)}${
                      o.redis.maxMemoryBytes ? ` of ${bytes(o.redis.maxMemoryBytes)}` : ' (no maxmemory)'
                    };
                    AOF ${o.redis.aofEnabled === true ? 'on' : 'off'}
                  </p>`
            }
          </section>`
  }`;
}

export function usersBody(
  base: string,
  query: string,
  users: AdminResult<{ users?: string[]; next?: string | null }>,
  sessions: AdminResult<{ sessions?: Session[] }>,
): Html {
  const list = users.ok ? (users.body.users ?? []) : [];
  const online = sessions.ok ? (sessions.body.sessions ?? []) : [];
  const shown =
    query === '' ? online : online.filter((s) => s.jid.toLowerCase().includes(query.toLowerCase()));
  return html` <section>
      <h2>Find</h2>
      <form method="get" action="${base}/users" class="inline" id="user-search">
        <input type="search" name="query" value="${query}" placeholder="part of a JID" />
        <button type="submit">Search</button>
      </form>
    </section>
    <section>
      <h2>Create an account</h2>
      <form data-api-method="POST" data-api-path="/users" class="inline" id="create-user">
        <input name="jid" placeholder="alice@example.com" required aria-label="JID" />
        <input name="password" type="password" placeholder="password" required aria-label="Password" />
        <button type="submit">Create</button>
      </form>
    </section>
    <section>
      <h2>Accounts</h2>
      ${failure(users, 'Accounts unavailable')}
      <table id="users">
        <thead>
          <tr>
            <th>Account</th>
            <th>New password</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${list.map((jid) => {
            const path = `/users/${encodeURIComponent(jid)}`;
            return html`<tr data-user="${jid}">
              <td>${jid}</td>
              <td>
                <form data-api-method="PUT" data-api-path="${path}/password" class="inline">
                  <input name="password" type="password" required aria-label="New password for ${jid}" />
                  <button type="submit">Reset password</button>
                </form>
              </td>
              <td>
                ${actionButton('Kick sessions', 'POST', '/sessions/kick', { jid })}
                ${actionButton('Delete', 'DELETE', path, undefined, `Delete ${jid} and everything stored for it?`)}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
      ${users.ok && users.body.next ? html`<p><a href="${base}/users?query=${encodeURIComponent(query)}&after=${encodeURIComponent(users.body.next)}">Next page</a></p>` : ''}
    </section>
    <section>
      <h2>Online sessions</h2>
      ${failure(sessions, 'Sessions unavailable')}
      <table id="sessions">
        <thead>
          <tr>
            <th>Session</th>
            <th>Edge</th>
            <th>Since</th>
            <th>Available</th>
            <th>Priority</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${shown.map(
            (s) =>
              html`<tr data-session="${s.jid}">
                <td>${s.jid}</td>
                <td>${s.edgeId ?? ''}</td>
                <td>${time(s.since)}</td>
                <td>${yesNo(s.available)}</td>
                <td class="num">${s.priority ?? ''}</td>
                <td>${actionButton('Kick', 'POST', '/sessions/kick', { jid: s.jid })}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

export interface SmsLookups {
  /** A JID or a +E.164 number whose registration to show. */
  readonly registration: string;
  /** An SMS user's number and the registered number it opted out of. */
  readonly optOutNumber: string;
  readonly optOutOwn: string;
}

export function smsBody(
  base: string,
  lookups: SmsLookups,
  overview: AdminResult<{ domain?: string; queue?: Record<string, number> }>,
  jobs: AdminResult<{ jobs?: FailedJob[] }>,
  registrations: AdminResult<{ registrations?: { jid: string; number: string }[] }>,
  optOuts: AdminResult<{ optOuts?: { number: string; own: string }[] }>,
): Html {
  if (!overview.ok && overview.error === 'sms-not-configured') {
    return html`<p class="unavailable" data-error="sms-not-configured">
      No SMS gateway in this deployment.
    </p>`;
  }
  return html` ${failure(overview, 'SMS gateway unavailable')}
    ${
      overview.ok
        ? html`<section>
            <h2>Queue of ${overview.body.domain ?? ''}</h2>
            <dl class="totals" id="sms-queue">
              ${Object.entries(overview.body.queue ?? {}).map(
                ([state, count]) =>
                  html`<dt>${state}</dt>
                    <dd data-queue="${state}">${count}</dd>`,
              )}
            </dl>
          </section>`
        : ''
    }
    <section>
      <h2>Failed jobs</h2>
      ${failure(jobs, 'Failed jobs unavailable')}
      <table id="failed-jobs">
        <thead>
          <tr>
            <th>Job</th>
            <th>From</th>
            <th>To</th>
            <th>Text</th>
            <th>Reason</th>
            <th>Attempts</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${(jobs.ok ? (jobs.body.jobs ?? []) : []).map((j) => {
            const path = `/sms/jobs/${encodeURIComponent(j.id)}`;
            return html`<tr data-job="${j.id}">
              <td>${j.id}</td>
              <td>${j.sender ?? j.from ?? ''}</td>
              <td>${j.to ?? ''}</td>
              <td>${j.text ?? ''}</td>
              <td>${j.reason ?? ''}</td>
              <td class="num">${j.attempts ?? ''}</td>
              <td>
                ${actionButton('Retry', 'POST', `${path}/retry`)}
                ${actionButton('Delete', 'DELETE', path, undefined, `Delete job ${j.id}?`)}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </section>
    <section>
      <h2>Registrations</h2>
      <form method="get" action="${base}/sms" class="inline" id="registration-lookup">
        <input
          name="registration"
          value="${lookups.registration}"
          placeholder="alice@example.com or +15550001"
          aria-label="Account or number"
        />
        <button type="submit">Look up</button>
      </form>
      ${failure(registrations, 'Registrations unavailable')}
      <table id="sms-registrations">
        <thead>
          <tr>
            <th>Account</th>
            <th>Number</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${(registrations.ok ? (registrations.body.registrations ?? []) : []).map(
            (r) =>
              html`<tr>
                <td>${r.jid}</td>
                <td>${r.number}</td>
                <td>
                  ${actionButton(
                    'Remove',
                    'DELETE',
                    `/sms/registrations/${encodeURIComponent(r.jid)}`,
                    undefined,
                    `Remove the registration of ${r.jid}?`,
                  )}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <section>
      <h2>Opted-out numbers</h2>
      <form method="get" action="${base}/sms" class="inline" id="opt-out-lookup">
        <input
          name="optOutNumber"
          value="${lookups.optOutNumber}"
          placeholder="+15550001 (sent STOP)"
          aria-label="Number that sent STOP"
        />
        <input
          name="optOutOwn"
          value="${lookups.optOutOwn}"
          placeholder="+15559999 (our number)"
          aria-label="Registered number"
        />
        <button type="submit">Look up</button>
      </form>
      ${failure(optOuts, 'Opt-outs unavailable')}
      <table id="sms-opt-outs">
        <thead>
          <tr>
            <th>Number (sent STOP)</th>
            <th>To our number</th>
          </tr>
        </thead>
        <tbody>
          ${(optOuts.ok ? (optOuts.body.optOuts ?? []) : []).map(
            (o) =>
              html`<tr>
                <td>${o.number}</td>
                <td>${o.own}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

export function ircBody(
  result: AdminResult<{
    connections?: { jid: string; network: string; nick?: string; state?: string; channels?: string[] }[];
  }>,
): Html {
  if (!result.ok && result.error === 'not-implemented') {
    return html`<p class="unavailable" data-error="not-implemented">No IRC gateway in this deployment.</p>`;
  }
  return html`${failure(result, 'IRC connections unavailable')}
    <table id="irc-connections">
      <thead>
        <tr>
          <th>Account</th>
          <th>Network</th>
          <th>Nick</th>
          <th>State</th>
          <th>Channels</th>
        </tr>
      </thead>
      <tbody>
        ${(result.ok ? (result.body.connections ?? []) : []).map(
          (c) =>
            html`<tr>
              <td>${c.jid}</td>
              <td>${c.network}</td>
              <td>${c.nick ?? ''}</td>
              <td>${c.state ?? ''}</td>
              <td>${(c.channels ?? []).join(', ')}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

export function componentsBody(result: AdminResult<{ components?: Component[] }>): Html {
  return html`${failure(result, 'Components unavailable')}
    <table id="components">
      <thead>
        <tr>
          <th>Domain</th>
          <th>Connected</th>
          <th>Consumers</th>
          <th>Pending</th>
          <th>Stream length</th>
        </tr>
      </thead>
      <tbody>
        ${(result.ok ? (result.body.components ?? []) : []).map(
          (c) =>
            html`<tr data-component="${c.domain}">
              <td>${c.domain}</td>
              <td>${yesNo(c.connected)}</td>
              <td class="num">${c.consumers ?? ''}</td>
              <td class="num">${c.pending ?? ''}</td>
              <td class="num">${c.length ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

/** The charts the metrics page draws from polling /stats and /overview (see assets.ts). */
export const CHARTS = [
  ['sessions', 'Sessions (bound resources)'],
  ['connections', 'Open client connections (all edges)'],
  ['routePending', 'Route stream entries read, not yet acked'],
  ['routeLag', 'Route lag (entries not yet read, all routers)'],
  ['smsWaiting', 'SMS jobs waiting'],
  ['smsFailed', 'SMS jobs failed'],
  ['redisMemory', 'Redis memory used (bytes)'],
] as const;

export function metricsBody(): Html {
  return html`<p>
      Polled from the admin API every 2 seconds while this page is open; the last 5 minutes are kept.
    </p>
    <div class="charts">
      ${CHARTS.map(
        ([key, label]) =>
          html`<figure class="chart">
            <figcaption>${label}: <output data-latest="${key}">–</output></figcaption>
            <svg
              data-chart="${key}"
              viewBox="0 0 300 100"
              preserveAspectRatio="none"
              role="img"
              aria-label="${label}"
            >
              <polyline points="" />
            </svg>
            <small data-scale></small>
          </figure>`,
      )}
    </div>`;
}
