import { parseElement, xml, type Element } from '@switchboard/xml';
import type { ArchiveQuery, MucStorage } from '../storage/storage.js';
import { formValues } from './config-form.js';
import { NS } from './namespaces.js';
import { StanzaError } from './stanza-error.js';

/** XEP-0313 §4.3: the server picks a page size when the client asks none, and caps what it asks. */
const DEFAULT_PAGE = 50;
const MAX_PAGE = 250;

/** The query form a client may fill in (XEP-0313 §4.1.1 `get`). */
export function mamQueryForm(): Element {
  return xml(
    'x',
    { xmlns: NS.DATA, type: 'form' },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.MAM)),
    xml('field', { var: 'with', type: 'jid-single' }),
    xml('field', { var: 'start', type: 'text-single' }),
    xml('field', { var: 'end', type: 'text-single' }),
  );
}

function parseTime(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new StanzaError('bad-request', `not a XEP-0082 timestamp: ${value}`);
  return ms;
}

/**
 * Answers a room archive query (XEP-0313 §4, paging with XEP-0059 RSM): one
 * `<result/>` message per archived message, then the iq result with `<fin/>`.
 */
export async function handleMamQuery(
  stanza: Element,
  query: Element,
  room: string,
  storage: MucStorage,
): Promise<Element[]> {
  const requester = stanza.attrs['from'] ?? '';
  const queryId = query.attrs['queryid'];
  const form = query.getChild('x', NS.DATA);
  const values = form === undefined ? new Map<string, string[]>() : formValues(form);
  const formType = values.get('FORM_TYPE')?.[0];
  if (formType !== undefined && formType !== NS.MAM)
    throw new StanzaError('bad-request', 'unknown FORM_TYPE');
  for (const name of values.keys())
    if (!['FORM_TYPE', 'with', 'start', 'end'].includes(name))
      throw new StanzaError('feature-not-implemented', `unknown field ${name}`); // §4.1.1
  const set = query.getChild('set', NS.RSM);
  const maxText = set?.getChildText('max');
  const max = maxText === undefined ? DEFAULT_PAGE : Number(maxText);
  if (!Number.isInteger(max) || max < 0) throw new StanzaError('bad-request', 'bad RSM max');
  const after = set?.getChildText('after');
  const before = set?.getChildText('before');
  for (const id of [after, before])
    if (id !== undefined && id !== '' && !(await storage.hasMessage(room, id)))
      throw new StanzaError('item-not-found', 'no such archive id'); // XEP-0059 §2.5 / XEP-0313 §4.3
  const start = parseTime(values.get('start')?.[0]);
  const end = parseTime(values.get('end')?.[0]);
  const withJid = values.get('with')?.[0];
  const archiveQuery: ArchiveQuery = {
    max: Math.min(max, MAX_PAGE),
    ...(start === undefined ? {} : { start }),
    ...(end === undefined ? {} : { end }),
    ...(withJid === undefined || withJid === '' ? {} : { with: withJid }),
    ...(after === undefined ? {} : { after }),
    ...(before === undefined ? {} : { before }),
  };
  const page = await storage.queryArchive(room, archiveQuery);
  const out: Element[] = page.messages.map((message) => {
    const archived = parseElement(message.xml);
    archived.attrs['xmlns'] = NS.CLIENT;
    delete archived.attrs['to'];
    return xml(
      'message',
      { from: room, to: requester, id: message.id },
      xml(
        'result',
        { xmlns: NS.MAM, queryid: queryId, id: message.id },
        xml(
          'forwarded',
          { xmlns: NS.FORWARD },
          xml('delay', { xmlns: NS.DELAY, stamp: new Date(message.ts).toISOString() }),
          archived,
        ),
      ),
    );
  });
  const first = page.messages[0];
  const last = page.messages[page.messages.length - 1];
  out.push(
    xml(
      'iq',
      { from: room, to: requester, id: stanza.attrs['id'], type: 'result' },
      xml(
        'fin',
        { xmlns: NS.MAM, complete: page.complete ? 'true' : undefined },
        xml(
          'set',
          { xmlns: NS.RSM },
          first === undefined ? null : xml('first', {}, first.id),
          last === undefined ? null : xml('last', {}, last.id),
        ),
      ),
    ),
  );
  return out;
}
