import type { IncomingMessage } from 'node:http';
import { Transform, pipeline } from 'node:stream';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger, Metrics } from '@switchboard/kit';
import { contentDisposition, normalizeContentType } from './filename.js';
import { UPLOAD_PATH } from './service.js';
import { SLOT_ID, SizeMismatchError, type ByteRange, type FileStorage } from './storage/storage.js';
import { verifySlotToken, type SlotClaims } from './token.js';

export interface FileServerOptions {
  readonly storage: FileStorage;
  readonly secret: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** PEM key and certificate: HTTPS (production). Without them, plain HTTP (tests, loopback behind a proxy). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Seconds a client may cache a served file. */
  readonly cacheSeconds?: number;
  readonly now?: () => number;
}

interface SlotParams {
  slotId: string;
  filename: string;
}

/** XEP-0363 §7: web clients upload and download cross-origin. */
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'PUT, GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '86400',
} as const;

/** Served files are data, never active content on our origin: no scripts, no framing, no plugins. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox";

/**
 * The HTTP side of XEP-0363: PUT into a slot whose signed token matches the
 * request exactly, GET/HEAD (with Range) to serve it. Not listening: call
 * `listen()` on the result.
 */
export function buildFileServer(options: FileServerOptions): FastifyInstance {
  const { storage, logger } = options;
  const now = options.now ?? Date.now;
  const app = (options.tls === undefined
    ? fastify()
    : fastify({ https: { key: options.tls.key, cert: options.tls.cert } })) as unknown as FastifyInstance;
  const stored = options.metrics?.counter({ name: 'upload_files_stored_total', help: 'Files stored by PUT' });
  const storedBytes = options.metrics?.counter({
    name: 'upload_bytes_stored_total',
    help: 'Bytes stored by PUT',
  });
  const rejected = options.metrics?.counter({
    name: 'upload_put_rejected_total',
    help: 'PUT requests refused, by HTTP status',
    labelNames: ['status'],
  });

  // Bodies stay unread streams: the handler checks the token before a byte is stored.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    (_request: FastifyRequest, _payload: IncomingMessage, done: (err: null) => void) => done(null),
  );
  app.addHook('onRequest', async (_request, reply) => {
    void reply.headers(CORS_HEADERS);
  });

  const refuse = (reply: FastifyReply, status: number, message: string): FastifyReply => {
    rejected?.inc({ status: String(status) });
    // Don't keep reading a body we refused: the client learns at once and the connection is closed.
    return reply
      .code(status)
      .header('connection', 'close')
      .type('text/plain; charset=utf-8')
      .send(`${message}\n`);
  };

  app.options(`${UPLOAD_PATH}/:slotId/:filename`, async (_request, reply) => reply.code(204).send());

  app.put<{ Params: SlotParams; Querystring: { token?: string } }>(
    `${UPLOAD_PATH}/:slotId/:filename`,
    async (request, reply) => {
      const claims = checkToken(request, options.secret, now());
      if (typeof claims === 'string') return refuse(reply, 403, claims);
      const lengthHeader = request.headers['content-length'];
      if (lengthHeader === undefined) return refuse(reply, 411, 'Content-Length is required');
      if (Number(lengthHeader) !== claims.size) {
        return refuse(reply, 413, `This slot is for exactly ${claims.size} bytes`);
      }
      const sentType = request.headers['content-type'];
      const contentType =
        sentType === undefined ? 'application/octet-stream' : normalizeContentType(sentType);
      if (contentType !== claims.contentType) {
        return refuse(reply, 400, `This slot is for Content-Type ${claims.contentType}`);
      }
      // pipeline() rather than pipe(): a client that goes away fails the storage write instead of stalling it.
      const body = exactly(claims.size);
      pipeline(request.raw, body, () => undefined);
      try {
        const outcome = await storage.put(
          {
            slotId: claims.slotId,
            filename: claims.filename,
            contentType: claims.contentType,
            size: claims.size,
            owner: claims.owner,
            createdAt: new Date(now()),
          },
          body,
        );
        if (outcome === 'exists') return refuse(reply, 409, 'This slot was already used');
      } catch (error) {
        if (error instanceof SizeMismatchError) return refuse(reply, 400, error.message);
        if (request.raw.destroyed || request.raw.readableAborted) {
          logger.info({ slotId: claims.slotId }, 'upload aborted by the client');
          return reply;
        }
        throw error;
      }
      stored?.inc();
      storedBytes?.inc(claims.size);
      logger.info({ slotId: claims.slotId, owner: claims.owner, size: claims.size }, 'file uploaded');
      return reply.code(201).send();
    },
  );

  const serve = async (
    request: FastifyRequest<{ Params: SlotParams }>,
    reply: FastifyReply,
    withBody: boolean,
  ): Promise<FastifyReply> => {
    const { slotId, filename } = request.params;
    if (!SLOT_ID.test(slotId)) return reply.code(404).send();
    const file = await storage.stat(slotId);
    if (file === null || file.filename !== filename) return reply.code(404).send();
    void reply.headers({
      'content-type': file.contentType,
      'content-disposition': contentDisposition(file.contentType, file.filename),
      'x-content-type-options': 'nosniff',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'accept-ranges': 'bytes',
      'last-modified': file.createdAt.toUTCString(),
      // A slot's URL never changes content.
      'cache-control': `public, max-age=${options.cacheSeconds ?? 86_400}, immutable`,
    });
    const rangeHeader = request.headers.range;
    const range = rangeHeader === undefined ? null : parseRange(rangeHeader, file.size);
    if (range === 'unsatisfiable') {
      return reply.code(416).header('content-range', `bytes */${file.size}`).send();
    }
    if (range !== null) {
      void reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
    }
    const length = range === null ? file.size : range.end - range.start + 1;
    void reply.header('content-length', String(length));
    if (!withBody) return reply.send();
    const stream = await storage.read(slotId, range ?? undefined);
    if (stream === null) return reply.code(404).removeHeader('content-length').send();
    return reply.send(stream);
  };

  app.get<{ Params: SlotParams }>(`${UPLOAD_PATH}/:slotId/:filename`, {
    // fastify's automatic HEAD would read the file to throw it away.
    exposeHeadRoute: false,
    handler: (request, reply) => serve(request, reply, true),
  });
  app.head<{ Params: SlotParams }>(`${UPLOAD_PATH}/:slotId/:filename`, (request, reply) =>
    serve(request, reply, false),
  );
  return app;
}

/** The claims of the request's token, or why it is refused (403). */
function checkToken(
  request: FastifyRequest<{ Params: SlotParams; Querystring: { token?: string } }>,
  secret: string,
  nowMs: number,
): SlotClaims | string {
  const authorization = request.headers.authorization;
  const fromHeader =
    authorization?.startsWith('Bearer ') === true ? authorization.slice(7).trim() : undefined;
  const fromQuery = request.query.token;
  if (fromHeader !== undefined && fromQuery !== undefined && fromHeader !== fromQuery) {
    return 'The Authorization header and the URL carry different tokens';
  }
  const token = fromHeader ?? fromQuery;
  if (token === undefined) return 'A slot token is required';
  const check = verifySlotToken(token, secret, Math.floor(nowMs / 1000));
  if (!check.ok) return check.problem === 'expired' ? 'This slot has expired' : 'Invalid slot token';
  const { claims } = check;
  if (claims.slotId !== request.params.slotId || claims.filename !== request.params.filename) {
    return 'The token is for another slot';
  }
  return claims;
}

/** A single `bytes=` range (RFC 9110 §14.2); null to serve the whole file (absent, multiple or malformed). */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/** Passes the body through, failing it as soon as it runs past `size` bytes. */
function exactly(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > size) callback(new SizeMismatchError(size, seen));
      else callback(null, chunk);
    },
  });
}
