/**
 * The console's whole front end: one stylesheet and one script, plain CSS and vanilla JS served as
 * they are (no build step). The script turns `data-api-*` forms and buttons into calls to
 * `${base}/api/*` carrying the CSRF token, and draws the metrics page's charts as SVG polylines.
 */
export const CONSOLE_SCRIPT = String.raw`'use strict';
(() => {
  const meta = (name) => (document.querySelector('meta[name="' + name + '"]') || {}).content || '';
  const csrf = meta('csrf-token');
  const base = meta('console-base');

  const flash = (text, isError) => {
    const el = document.getElementById('flash');
    if (!el) return;
    el.textContent = text;
    el.className = isError ? 'error' : 'ok';
    el.hidden = false;
  };

  const call = async (method, path, body) => {
    const headers = { 'x-csrf-token': csrf };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(base + '/api' + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (response.status === 401) { location.assign(base + '/login'); throw new Error('logged out'); }
    if (!response.ok) throw new Error((data && (data.message || data.error)) || 'HTTP ' + response.status);
    return data;
  };

  // An action reloads the page: what it shows is always what the API says now.
  const act = async (method, path, body, label) => {
    try {
      await call(method, path, body);
      sessionStorage.setItem('console-flash', label + ': done');
      location.reload();
    } catch (error) {
      flash(label + ' failed: ' + error.message, true);
    }
  };

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.apiMethod) return;
    event.preventDefault();
    const body = {};
    for (const [key, value] of new FormData(form)) body[key] = String(value);
    const submit = form.querySelector('button[type=submit]');
    void act(form.dataset.apiMethod, form.dataset.apiPath, body, submit ? submit.textContent : 'Request');
  });

  document.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-api-method]') : null;
    if (!button) return;
    if (button.dataset.logout) {
      void fetch(button.dataset.logout, { method: 'POST', headers: { 'x-csrf-token': csrf }, credentials: 'same-origin' })
        .finally(() => location.assign(base + '/login'));
      return;
    }
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const body = button.dataset.apiBody ? JSON.parse(button.dataset.apiBody) : undefined;
    void act(button.dataset.apiMethod, button.dataset.apiPath, body, button.textContent);
  });

  const pending = sessionStorage.getItem('console-flash');
  if (pending) {
    sessionStorage.removeItem('console-flash');
    flash(pending, false);
  }

  const charts = document.querySelectorAll('svg[data-chart]');
  if (charts.length === 0) return;
  const KEEP = 150; // 5 minutes at one sample every 2 seconds
  const series = {};
  const sum = (values) => values.reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
  const draw = (svg, values) => {
    const max = Math.max(1, ...values);
    const span = Math.max(1, values.length - 1);
    const y = (v) => (96 - (v / max) * 86).toFixed(1);
    // One sample is drawn as a flat line; more spread over the whole width, oldest on the left.
    const points = values.length === 1
      ? ['0,' + y(values[0]), '300,' + y(values[0])]
      : values.map((v, i) => ((i / span) * 300).toFixed(1) + ',' + y(v));
    svg.querySelector('polyline').setAttribute('points', points.join(' '));
    const scale = svg.parentElement && svg.parentElement.querySelector('[data-scale]');
    if (scale) scale.textContent = 'scale 0–' + max + ', ' + values.length + ' samples';
    svg.dataset.samples = String(values.length);
  };
  const poll = async () => {
    try {
      const [stats, overview] = await Promise.all([call('GET', '/stats'), call('GET', '/overview')]);
      const sample = {
        sessions: stats.sessions,
        connections: sum((overview.edges || []).map((e) => e.connections)),
        routePending: stats.routeStreams ? stats.routeStreams.pending : undefined,
        routeLag: sum((overview.routers || []).map((r) => r.lag)),
        smsWaiting: stats.sms ? stats.sms.waiting : undefined,
        smsFailed: stats.sms ? stats.sms.failed : undefined,
        redisMemory: overview.redis ? overview.redis.usedMemoryBytes : undefined,
      };
      for (const svg of charts) {
        const key = svg.dataset.chart;
        const value = sample[key];
        const output = document.querySelector('output[data-latest="' + key + '"]');
        if (typeof value !== 'number') { if (output) output.textContent = 'n/a'; continue; }
        const values = (series[key] = (series[key] || []).concat(value).slice(-KEEP));
        if (output) output.textContent = String(value);
        draw(svg, values);
      }
    } catch (error) {
      flash('Polling the admin API failed: ' + error.message, true);
    }
    setTimeout(poll, 2000);
  };
  void poll();
})();
`;

export const CONSOLE_STYLE = `
:root { color-scheme: light dark; --accent: #2a6df4; --muted: #888; --bad: #c62828; --good: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid #8884; }
header nav { display: flex; gap: 1rem; flex: 1; }
header nav a { text-decoration: none; color: inherit; padding: .2rem 0; }
header nav a[aria-current=page] { border-bottom: 2px solid var(--accent); font-weight: 600; }
.who { color: var(--muted); display: flex; gap: .6rem; align-items: center; }
main { padding: 1rem 1.2rem 3rem; max-width: 80rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #8883; vertical-align: middle; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
form.inline { display: inline-flex; gap: .4rem; flex-wrap: wrap; margin: 0; }
input { font: inherit; padding: .25rem .4rem; }
button { font: inherit; padding: .25rem .7rem; cursor: pointer; }
.yes { color: var(--good); } .no { color: var(--muted); }
.error, .unavailable { color: var(--bad); }
.hint { color: var(--muted); }
#flash.ok { color: var(--good); }
dl.totals { display: grid; grid-template-columns: max-content auto; gap: .2rem 1.2rem; }
dl.totals dt { color: var(--muted); } dl.totals dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(22rem, 1fr)); gap: 1rem; }
figure.chart { margin: 0; padding: .6rem; border: 1px solid #8884; border-radius: 6px; }
figure.chart svg { width: 100%; height: 8rem; display: block; border-bottom: 1px solid #8886; }
figure.chart small { color: var(--muted); }
figure.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
body.login main { max-width: 26rem; margin: 4rem auto; }
body.login form { display: grid; gap: .6rem; margin: 1.2rem 0; padding: 1rem; border: 1px solid #8884; border-radius: 6px; }
body.login label { display: grid; gap: .2rem; }
`;
