import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { htmlEscape, scriptJson } from './html.js';

export interface ChatOptions {
  /** Where the page is served, e.g. `/` or `/chat/`. */
  readonly path: string;
  /** Domain the client logs into and registers on. */
  readonly domain: string;
  readonly allowRegistration: boolean;
  /** The WebSocket endpoint (RFC 7395) this page's client connects to, for this request. */
  readonly websocketUrl: (request: FastifyRequest) => string;
}

/** The Converse.js build shipped in its npm package (pinned in package.json); nothing is fetched from elsewhere. */
export function converseDistDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('converse.js/dist/converse.min.js'));
}

/** Serves Converse.js and an index page preconfigured for this server. */
export async function registerChat(app: FastifyInstance, options: ChatOptions): Promise<void> {
  const base = options.path.endsWith('/') ? options.path : `${options.path}/`;
  const assets = `${base}converse/`;
  await app.register(fastifyStatic, {
    root: converseDistDir(),
    prefix: assets,
    decorateReply: false,
    index: false,
    // The version is pinned: its files do not change under a URL until the package does.
    maxAge: '1h',
  });

  const page = (request: FastifyRequest): string => {
    const settings = {
      assets_path: assets,
      websocket_url: options.websocketUrl(request),
      // The endpoint is known: no XEP-0156 lookup, no BOSH.
      discover_connection_methods: false,
      view_mode: 'fullscreen',
      authentication: 'login',
      allow_registration: options.allowRegistration,
      registration_domain: options.domain,
      default_domain: options.domain,
      domain_placeholder: options.domain,
      show_connection_url_input: false,
      auto_reconnect: true,
      loglevel: 'warn',
    };
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat on ${htmlEscape(options.domain)}</title>
<link rel="icon" href="${htmlEscape(assets)}images/favicon.ico">
<link rel="stylesheet" href="${htmlEscape(assets)}converse.min.css">
<style>converse-footer .sponsors { display: none; }</style>
<script type="module" src="${htmlEscape(assets)}converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<noscript>This chat needs JavaScript. Any XMPP client can connect to ${htmlEscape(options.domain)} instead.</noscript>
<script type="module">converse.initialize(${scriptJson(settings)});</script>
</body>
</html>
`;
  };

  const serve = (request: FastifyRequest, reply: FastifyReply) =>
    reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .header('content-security-policy', contentSecurityPolicy(options.websocketUrl(request)))
      .type('text/html; charset=utf-8')
      .send(page(request));
  app.get(base, serve);
  if (base !== '/') app.get(base.slice(0, -1), (_request, reply) => reply.redirect(base));
}

/**
 * Everything the page loads comes from this server: Converse's footer links sponsor logos from its
 * project site, which the policy keeps from loading (the footer hides them too).
 */
function contentSecurityPolicy(websocketUrl: string): string {
  return [
    "default-src 'self'",
    // The inline module script is the page's own configuration; OMEMO's curve25519 is WebAssembly.
    "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    `connect-src 'self' ${new URL(websocketUrl).origin}`,
    "object-src 'none'",
    "base-uri 'self'",
  ].join('; ');
}
