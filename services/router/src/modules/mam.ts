import {
  ArchiveItemNotFoundError,
  type ArchivedMessage,
  type ArchivePrefs,
  type ArchiveQuery,
} from '@switchboard/store';
import { escapeXml, parseElement, xml, type Element } from '@switchboard/xml';
import { andThen, type MaybePromise, type Pass, type RouterCore, type RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';
import { Stanza } from '../stanza.js';
import { FORWARD_NS, HINTS_NS, forwardedCopy } from './carbons.js';
import { DATA_FORMS_NS, formFields, formOf } from './data-form.js';
import { onMessageDelivery } from './messages.js';

export const MAM_NS = 'urn:xmpp:mam:2';
export const MAM_EXTENDED = 'urn:xmpp:mam:2#extended';
export const SID_NS = 'urn:xmpp:sid:0';
export const RSM_NS = 'http://jabber.org/protocol/rsm';
const DELAY_NS = 'urn:xmpp:delay';

/** Page size when the client names none, and the most the server returns in one page (XEP-0313 §4.2). */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 250;
const DEFAULT_CAP = 10_000;
const DAY_MS = 86_400_000;

/** Form fields this archive filters on (XEP-0313 §4.1.1, and the #extended ones). */
const FIELDS = ['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids', 'flip-page'] as const;

/**
 * Whether a message goes into the archive (XEP-0313 §5.1.1): chat and normal
 * messages with a body, unless marked `<no-store/>` or `<no-permanent-store/>`
 * (XEP-0334 §4).
 */
export function archivable(st: Stanza): boolean {
  return archiveForm(st) !== false;
}

/**
 * How an archivable message is read: 'plain' when the serialized stanza decides it (a `<body` tag,
 * no hints, nothing that nests other bodies or carries a stanza-id), 'parsed' when it took the
 * element; false when it is not archived.
 */
function archiveForm(st: Stanza): false | 'plain' | 'parsed' {
  const type = st.type;
  if (st.kind !== 'message' || (type !== 'chat' && type !== 'normal' && type !== '')) return false;
  // Most traffic without a body (chat states, receipts) is routed without being parsed.
  const text = st.env.xml;
  if (!text.includes('<body')) return false;
  if (isPlain(text)) return 'plain';
  const el = st.el;
  if (el.getChild('body') === undefined) return false;
  return el.getChild('no-store', HINTS_NS) === undefined &&
    el.getChild('no-permanent-store', HINTS_NS) === undefined
    ? 'parsed'
    : false;
}

/** No element in the stanza that could hide or nest a body, or carry a storage hint or a stanza-id. */
function isPlain(text: string): boolean {
  return (
    !text.includes(HINTS_NS) &&
    !text.includes(FORWARD_NS) &&
    !text.includes(XHTML_IM_NS) &&
    !text.includes(SID_NS) &&
    text.endsWith('</message>')
  );
}

const XHTML_IM_NS = 'http://jabber.org/protocol/xhtml-im';

function parseTime(value: string | undefined): number | undefined | StanzaError {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms)
    ? new StanzaError('bad-request', undefined, `not a XEP-0082 date-time: ${value}`)
    : ms;
}

function prefsElement(prefs: ArchivePrefs): Element {
  const list = (name: string, jids: readonly string[]) =>
    xml(
      name,
      {},
      jids.map((j) => xml('jid', {}, j)),
    );
  return xml(
    'prefs',
    { xmlns: MAM_NS, default: prefs.default },
    list('always', prefs.always),
    list('never', prefs.never),
  );
}

/**
 * XEP-0313 Message Archive Management for accounts: chat messages with a
 * body are archived in their owner's partition, inbound ones in the
 * recipient's (stamped with a XEP-0359 stanza-id) and outbound ones in the
 * sender's; the owner queries with the MAM form and XEP-0059 paging and sets
 * preferences (§6). Retention and a per-user cap come from the router config.
 */
export const mamModule: RouterModule = {
  name: 'mam',
  setup(core: RouterCore) {
    core.feature(MAM_NS, 'account');
    core.feature(MAM_EXTENDED, 'account');
    core.feature(SID_NS, 'account');
    const config = core.config.mam ?? {};
    const cap = config.maxPerUser ?? DEFAULT_CAP;
    const defaultPrefs: ArchivePrefs = { default: config.defaultMode ?? 'always', always: [], never: [] };
    const notBefore = (): number | undefined =>
      config.retentionDays === undefined ? undefined : core.now() - config.retentionDays * DAY_MS;

    // Preferences of users in owned partitions; only this router writes them while it owns the partition.
    const prefsCache = new Map<string, ArchivePrefs>();
    core.onForget((keep) => {
      for (const user of prefsCache.keys()) if (!keep(user)) prefsCache.delete(user);
    });
    const prefsOf = async (user: string): Promise<ArchivePrefs> => {
      let prefs = prefsCache.get(user);
      if (prefs === undefined) {
        prefs = (await core.store.archive.getPrefs(user)) ?? defaultPrefs;
        prefsCache.set(user, prefs);
      }
      return prefs;
    };

    /** XEP-0313 §6: whether the user's preferences archive messages with `contact`. */
    const wantedBy = (prefs: ArchivePrefs, user: string, contact: string): MaybePromise<boolean> => {
      if (prefs.never.includes(contact)) return false;
      if (prefs.always.includes(contact)) return true;
      if (prefs.default === 'always') return true;
      if (prefs.default === 'never') return false;
      return core.store.rosters.getItem(user, contact).then((item) => item !== null);
    };
    /** Without waiting when the preferences are cached and decide it alone (the hot path). */
    const wanted = (user: string, contact: string): MaybePromise<boolean> => {
      const prefs = prefsCache.get(user) ?? prefsOf(user);
      return andThen(prefs, (p) => wantedBy(p, user, contact));
    };

    /**
     * Archive entries of one batch, written together once its deliveries are
     * on the bus and before it is acked (`Pass.after`): one transaction or
     * pipeline per batch instead of one per message. A query flushes first.
     */
    const queued = new WeakMap<Pass, { user: string; message: ArchivedMessage }[]>();
    const flush = async (pass: Pass): Promise<void> => {
      const entries = queued.get(pass);
      if (entries === undefined || entries.length === 0) return;
      queued.set(pass, []);
      const nb = notBefore();
      await core.store.archive.appendMany(entries, nb === undefined ? { cap } : { cap, notBefore: nb });
    };
    const append = (
      pass: Pass,
      user: string,
      id: string,
      contact: string,
      xmlText: string,
      ts: number,
    ): void => {
      let entries = queued.get(pass);
      if (entries === undefined) {
        queued.set(pass, (entries = []));
        pass.after.push(() => flush(pass));
      }
      entries.push({ user, message: { id, ts, with: contact, xml: xmlText } });
    };

    // Inbound, in the recipient's partition, before delivery: the stanza-id must reach the client.
    /** The plain form's stamping, once it is known whether the message is archived. */
    const stampPlain = (st: Stanza, pass: Pass, archived: boolean): Stanza => {
      if (!archived) return st;
      const user = st.to.bare;
      const text = st.env.xml;
      const sid = `<stanza-id xmlns="${SID_NS}" id="${escapeXml(st.env.id)}" by="${escapeXml(user)}"/>`;
      const stamped = new Stanza(
        { ...st.env, xml: `${text.slice(0, -'</message>'.length)}${sid}</message>` },
        st.stage,
        st.from,
        st.to,
      );
      append(pass, user, st.env.id, st.from.bare, stamped.env.xml, st.env.ts);
      return stamped;
    };

    onMessageDelivery(core, {
      before: (st, pass) => {
        const form = archiveForm(st);
        if (form === false) return st;
        if (form === 'plain') {
          // Hot path: no stanza-id to strip, so the new one is written into the serialized
          // stanza without parsing it (ARCHITECTURE.md, "Performance budget").
          return andThen(wanted(st.to.bare, st.from.bare), (a) => stampPlain(st, pass, a));
        }
        return stampParsed(st, pass);
      },
    });

    const stampParsed = async (st: Stanza, pass: Pass): Promise<Stanza> => {
      const user = st.to.bare;
      // XEP-0359 §3.1: a stanza-id claiming to be ours that we did not add is removed.
      const el = st.el.clone();
      for (const sid of el.getChildren('stanza-id', SID_NS))
        if (sid.attrs['by'] === user) el.removeChild(sid);
      if (!(await wanted(user, st.from.bare))) {
        return el.children.length === st.el.children.length ? st : restamped(st, el);
      }
      el.append(xml('stanza-id', { xmlns: SID_NS, id: st.env.id, by: user }));
      const stamped = restamped(st, el);
      append(pass, user, st.env.id, st.from.bare, stamped.env.xml, st.env.ts);
      return stamped;
    };

    // Outbound, in the sender's partition. A message to oneself is archived once, inbound.
    const appendSent = (st: Stanza, pass: Pass, archived: boolean): 'pass' => {
      if (archived) append(pass, st.from.bare, st.env.id, st.to.bare, st.env.xml, st.env.ts);
      return 'pass';
    };
    core.guard('out', (st, pass) => {
      if (st.to.bare === st.from.bare || !archivable(st)) return 'pass';
      return andThen(wanted(st.from.bare, st.to.bare), (a) => appendSent(st, pass, a));
    });

    core.iq('account', MAM_NS, async (st, payload, pass) => {
      const user = st.to.bare;
      // Only the owner reads or configures an account's archive.
      if (st.from.bare !== user) return new StanzaError('forbidden');
      switch (payload.getName()) {
        case 'query':
          return st.type === 'get' ? queryForm() : query(st, payload, pass);
        case 'prefs': {
          if (st.type === 'get')
            return prefsElement((await core.store.archive.getPrefs(user)) ?? defaultPrefs);
          const mode = payload.attrs['default'];
          if (mode !== 'always' && mode !== 'never' && mode !== 'roster')
            return new StanzaError('bad-request');
          const jids = (name: string) =>
            (payload.getChild(name)?.getChildren('jid') ?? [])
              .map((j) => j.getText().trim())
              .filter((j) => j !== '');
          const prefs: ArchivePrefs = { default: mode, always: jids('always'), never: jids('never') };
          await core.store.archive.setPrefs(user, prefs);
          prefsCache.set(user, prefs);
          return prefsElement(prefs);
        }
        case 'metadata': {
          if (st.type !== 'get') return new StanzaError('bad-request');
          await flush(pass);
          const start = notBefore();
          const range: Omit<ArchiveQuery, 'max'> = start === undefined ? {} : { start };
          const [first, last] = await Promise.all([
            core.store.archive.query(user, { ...range, max: 1 }),
            core.store.archive.query(user, { ...range, max: 1, fromEnd: true }),
          ]);
          const mark = (name: string, m: { id: string; ts: number } | undefined) =>
            m === undefined ? undefined : xml(name, { id: m.id, timestamp: new Date(m.ts).toISOString() });
          return xml(
            'metadata',
            { xmlns: MAM_NS },
            mark('start', first.messages[0]),
            mark('end', last.messages[0]),
          );
        }
        default:
          return new StanzaError('feature-not-implemented');
      }
    });

    /** XEP-0313 §4.1.1: the fields a client may filter on. */
    function queryForm(): Element {
      return xml(
        'query',
        { xmlns: MAM_NS },
        xml(
          'x',
          { xmlns: DATA_FORMS_NS, type: 'form' },
          xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM_NS)),
          xml('field', { var: 'with', type: 'jid-single' }),
          xml('field', { var: 'start', type: 'text-single' }),
          xml('field', { var: 'end', type: 'text-single' }),
          xml('field', { var: 'before-id', type: 'text-single' }),
          xml('field', { var: 'after-id', type: 'text-single' }),
          xml('field', { var: 'ids', type: 'text-multi' }),
          xml('field', { var: 'flip-page', type: 'boolean' }),
        ),
      );
    }

    async function query(st: Stanza, payload: Element, pass: Pass): Promise<Element | StanzaError> {
      const user = st.to.bare;
      const fields = formFields(formOf(payload));
      for (const name of fields.keys()) {
        if (!(FIELDS as readonly string[]).includes(name)) {
          return new StanzaError('bad-request', undefined, `unsupported field ${name}`);
        }
      }
      const formType = fields.get('FORM_TYPE')?.[0];
      if (formType !== undefined && formType !== MAM_NS) return new StanzaError('bad-request');
      const field = (name: string): string | undefined => {
        const v = fields.get(name)?.[0]?.trim();
        return v === '' ? undefined : v;
      };
      const start = parseTime(field('start'));
      const end = parseTime(field('end'));
      if (start instanceof StanzaError) return start;
      if (end instanceof StanzaError) return end;
      const rsm = payload.getChild('set', RSM_NS);
      const maxText = rsm?.getChildText('max');
      const requested = maxText === undefined ? DEFAULT_PAGE : Number.parseInt(maxText, 10);
      if (!Number.isInteger(requested) || requested < 0) return new StanzaError('bad-request');
      const before = rsm?.getChild('before');
      const after = rsm?.getChildText('after')?.trim() || field('after-id');
      const beforeId = before?.getText().trim() || field('before-id');
      const retained = notBefore();
      const from = retained === undefined ? start : Math.max(start ?? retained, retained);
      const with_ = field('with');
      const q: ArchiveQuery = {
        max: Math.min(requested, MAX_PAGE),
        // XEP-0059 §2.5: an empty <before/> asks for the last page.
        ...(before !== undefined ? { fromEnd: true } : {}),
        ...(with_ !== undefined ? { with: with_.split('/')[0]! } : {}),
        ...(from !== undefined ? { start: from } : {}),
        ...(end !== undefined ? { end } : {}),
        ...(after !== undefined ? { afterId: after } : {}),
        ...(beforeId !== undefined ? { beforeId, fromEnd: true } : {}),
        // XEP-0313 §4.1.1 (#extended): fetch these messages by id.
        ...(fields.has('ids') ? { ids: fields.get('ids')!.map((id) => id.trim()) } : {}),
      };
      // What this batch archived so far comes before the query (same partition, earlier stanzas).
      await flush(pass);
      let page;
      try {
        page = await core.store.archive.query(user, q);
      } catch (error) {
        if (error instanceof ArchiveItemNotFoundError) return new StanzaError('item-not-found');
        throw error;
      }
      const session = await core.sessions.get(user, st.from.resource);
      const queryId = payload.attrs['queryid'];
      const messages =
        field('flip-page') === 'true' || field('flip-page') === '1'
          ? [...page.messages].reverse()
          : page.messages;
      if (session !== null) {
        for (const m of messages) {
          // §4.2: each result is a message to the requesting resource, before the IQ result.
          const result = xml(
            'message',
            { from: user, to: session.fullJid },
            xml(
              'result',
              { xmlns: MAM_NS, queryid: queryId, id: m.id },
              xml(
                'forwarded',
                { xmlns: FORWARD_NS },
                xml('delay', { xmlns: DELAY_NS, stamp: new Date(m.ts).toISOString() }),
                forwardedCopy(parseElement(m.xml)),
              ),
            ),
          );
          core.deliver(session, result.toString(), st.childId(), st.env.ts, pass);
        }
      }
      const first = messages[0];
      const last = messages[messages.length - 1];
      return xml(
        'fin',
        { xmlns: MAM_NS, complete: page.complete ? 'true' : undefined },
        xml(
          'set',
          { xmlns: RSM_NS },
          first === undefined ? undefined : xml('first', { index: String(page.firstIndex) }, first.id),
          last === undefined ? undefined : xml('last', {}, last.id),
          xml('count', {}, String(page.count)),
        ),
      );
    }
  },
};

/** The same stanza with new XML (e.g. a stanza-id added), routed in its place. */
function restamped(st: Stanza, el: Element): Stanza {
  return new Stanza({ ...st.env, xml: el.toString() }, st.stage, st.from, st.to, el);
}
