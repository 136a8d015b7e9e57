import { randomBytes } from 'node:crypto';
import { tryParseJid } from '@switchboard/jid';
import type { Counter, Logger, Metrics } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import type { UploadConfig } from './config.js';
import { normalizeContentType, sanitizeFilename } from './filename.js';
import type { QuotaLedger } from './quota/ledger.js';
import { signSlotToken } from './token.js';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_DATA = 'jabber:x:data';

/** The path a slot's files are served under: `/upload/<slotId>/<filename>`. */
export const UPLOAD_PATH = '/upload';

type ErrorType = 'cancel' | 'modify' | 'wait' | 'auth';

/** A refusal as a value (STYLE.md: errors with stable names), turned into XML in one place. */
export interface SlotRefusal {
  readonly type: ErrorType;
  readonly condition:
    'bad-request' | 'forbidden' | 'not-acceptable' | 'resource-constraint' | 'service-unavailable';
  readonly text?: string;
  readonly appSpecific?: Element;
}

export interface Slot {
  readonly putUrl: string;
  readonly getUrl: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface UploadServiceOptions {
  readonly config: UploadConfig;
  readonly ledger: QuotaLedger;
  readonly send: (el: Element) => Promise<void>;
  /** The base URL clients reach the file server on (no trailing slash); known once it listens. */
  readonly baseUrl: () => string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

/** The XMPP side of XEP-0363: disco and slot requests on the component domain. */
export class UploadService {
  readonly #options: UploadServiceOptions;
  readonly #now: () => number;
  readonly #slots: Counter<'outcome'> | undefined;

  constructor(options: UploadServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#slots = options.metrics?.counter({
      name: 'upload_slot_requests_total',
      help: 'XEP-0363 slot requests by outcome (granted or the error condition)',
      labelNames: ['outcome'],
    });
  }

  async handle(el: Element): Promise<void> {
    // Only requests get answers; results, errors, messages and presence to the service are dropped.
    if (el.name !== 'iq' || (el.attrs['type'] !== 'get' && el.attrs['type'] !== 'set')) return;
    const payload = el.getChildElements()[0];
    const { domain } = this.#options.config;
    if (el.attrs['type'] === 'get' && payload?.is('query', NS_DISCO_INFO)) {
      if (payload.attrs['node'] !== undefined)
        return this.#error(el, { type: 'cancel', condition: 'service-unavailable' });
      return this.#result(el, this.#discoInfo());
    }
    if (el.attrs['type'] === 'get' && payload?.is('query', NS_DISCO_ITEMS)) {
      return this.#result(el, xml('query', { xmlns: NS_DISCO_ITEMS }));
    }
    if (el.attrs['type'] === 'get' && payload?.is('request', NS_UPLOAD)) {
      const answer = await this.requestSlot(el.attrs['from'] ?? '', payload);
      this.#slots?.inc({ outcome: 'slot' in answer ? 'granted' : answer.condition });
      if ('slot' in answer) {
        const { slot } = answer;
        return this.#result(
          el,
          xml(
            'slot',
            { xmlns: NS_UPLOAD },
            xml(
              'put',
              { url: slot.putUrl },
              ...Object.entries(slot.headers).map(([name, value]) => xml('header', { name }, value)),
            ),
            xml('get', { url: slot.getUrl }),
          ),
        );
      }
      return this.#error(el, answer);
    }
    this.#options.logger.debug(
      { from: el.attrs['from'], to: domain },
      'unsupported iq to the upload service',
    );
    return this.#error(el, { type: 'cancel', condition: 'service-unavailable' });
  }

  /** XEP-0363 §4 (request), §5 (errors): validates, reserves quota, signs the PUT URL. */
  async requestSlot(from: string, request: Element): Promise<{ slot: Slot } | SlotRefusal> {
    const { config, ledger } = this.#options;
    const requester = tryParseJid(from);
    if (requester === null || requester.local === '' || !config.domains.includes(requester.domain)) {
      return { type: 'cancel', condition: 'forbidden', text: 'Only local users may upload files' };
    }
    const filename = sanitizeFilename(request.attrs['filename'] ?? '');
    if (filename === null)
      return { type: 'modify', condition: 'bad-request', text: 'A file name is required' };
    const sizeText = request.attrs['size'] ?? '';
    const size = /^[0-9]{1,16}$/.test(sizeText) ? Number(sizeText) : NaN;
    if (!Number.isSafeInteger(size) || size <= 0) {
      return {
        type: 'modify',
        condition: 'bad-request',
        text: 'The size must be a positive number of bytes',
      };
    }
    const rawType = request.attrs['content-type'];
    const contentType =
      rawType === undefined || rawType.trim() === ''
        ? 'application/octet-stream'
        : normalizeContentType(rawType);
    if (contentType === null)
      return { type: 'modify', condition: 'bad-request', text: 'Invalid content-type' };
    if (size > config.maxFileSize) {
      return {
        type: 'modify',
        condition: 'not-acceptable',
        text: `File too large. The maximum file size is ${config.maxFileSize} bytes`,
        appSpecific: xml(
          'file-too-large',
          { xmlns: NS_UPLOAD },
          xml('max-file-size', {}, String(config.maxFileSize)),
        ),
      };
    }
    const slotId = randomBytes(16).toString('base64url');
    const owner = requester.bare().toString();
    const now = this.#now();
    const reservation = await ledger.reserve(owner, slotId, size, now);
    if (!reservation.ok) {
      return {
        type: 'wait',
        condition: 'resource-constraint',
        text: `Upload quota reached: ${reservation.usedBytes} of ${config.quotaBytes} bytes used in the last ${config.quotaWindowHours} hours`,
        ...(reservation.retryAt === null
          ? {}
          : {
              appSpecific: xml('retry', {
                xmlns: NS_UPLOAD,
                stamp: new Date(reservation.retryAt).toISOString(),
              }),
            }),
      };
    }
    const token = signSlotToken(
      {
        slotId,
        filename,
        size,
        contentType,
        owner,
        expiresAt: Math.floor(now / 1000) + config.slotTtlSeconds,
      },
      config.secret,
    );
    const getUrl = `${this.#options.baseUrl()}${UPLOAD_PATH}/${slotId}/${encodeURIComponent(filename)}`;
    this.#options.logger.info({ owner, slotId, size, contentType }, 'upload slot granted');
    return {
      slot: {
        // The token is in the URL (any replica verifies it) and in the Authorization header (§4: the client
        // MUST send the header elements given); either is enough.
        putUrl: `${getUrl}?token=${token}`,
        getUrl,
        headers: { Authorization: `Bearer ${token}` },
      },
    };
  }

  #discoInfo(): Element {
    const { config } = this.#options;
    return xml(
      'query',
      { xmlns: NS_DISCO_INFO },
      xml('identity', { category: 'store', type: 'file', name: config.name }),
      xml('feature', { var: NS_DISCO_INFO }),
      xml('feature', { var: NS_UPLOAD }),
      // XEP-0363 §2 with XEP-0128: the size limit as an extended disco form.
      xml(
        'x',
        { xmlns: NS_DATA, type: 'result' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_UPLOAD)),
        xml('field', { var: 'max-file-size' }, xml('value', {}, String(config.maxFileSize))),
      ),
    );
  }

  #result(request: Element, payload: Element): Promise<void> {
    return this.#options.send(
      xml(
        'iq',
        {
          type: 'result',
          id: request.attrs['id'],
          from: this.#options.config.domain,
          to: request.attrs['from'],
        },
        payload,
      ),
    );
  }

  #error(request: Element, refusal: SlotRefusal): Promise<void> {
    return this.#options.send(
      xml(
        'iq',
        {
          type: 'error',
          id: request.attrs['id'],
          from: this.#options.config.domain,
          to: request.attrs['from'],
        },
        xml(
          'error',
          { type: refusal.type },
          xml(refusal.condition, { xmlns: NS_STANZAS }),
          ...(refusal.text === undefined ? [] : [xml('text', { xmlns: NS_STANZAS }, refusal.text)]),
          ...(refusal.appSpecific === undefined ? [] : [refusal.appSpecific]),
        ),
      ),
    );
  }
}
