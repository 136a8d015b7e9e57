import { createHash } from 'node:crypto';
import type { Element } from '@switchboard/xml';
import { DATA_FORMS_NS } from './data-form.js';

export const CAPS_NS = 'http://jabber.org/protocol/caps';

/** The caps a presence advertises (XEP-0115 §4): hash algorithm, node and verification string. */
export interface CapsAdvert {
  readonly hash: string;
  readonly node: string;
  readonly ver: string;
}

/** The `<c/>` of a presence; legacy caps without `hash` (§6.3) cannot be verified and are ignored. */
export function capsOf(presence: Element): CapsAdvert | undefined {
  const c = presence.getChild('c', CAPS_NS);
  const hash = c?.attrs['hash'];
  const node = c?.attrs['node'];
  const ver = c?.attrs['ver'];
  if (hash === undefined || node === undefined || ver === undefined || ver === '') return undefined;
  return { hash, node, ver };
}

const byOctets = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** XEP-0115 §5.1: the string a disco#info result hashes to its `ver`. */
export function verificationString(query: Element): string {
  const identities = query
    .getChildren('identity')
    .map((i) =>
      [
        i.attrs['category'] ?? '',
        i.attrs['type'] ?? '',
        i.attrs['xml:lang'] ?? '',
        i.attrs['name'] ?? '',
      ].join('/'),
    )
    .sort(byOctets);
  const features = query
    .getChildren('feature')
    .map((f) => f.attrs['var'] ?? '')
    .sort(byOctets);
  let s = identities.map((i) => `${i}<`).join('') + features.map((f) => `${f}<`).join('');
  const forms = query
    .getChildren('x', DATA_FORMS_NS)
    .map((x) => {
      const fields = x.getChildren('field');
      const formType = fields.find((f) => f.attrs['var'] === 'FORM_TYPE')?.getChildText('value') ?? '';
      const rest = fields
        .filter((f) => f.attrs['var'] !== 'FORM_TYPE')
        .map((f) => ({
          name: f.attrs['var'] ?? '',
          values: f
            .getChildren('value')
            .map((v) => v.getText())
            .sort(byOctets),
        }))
        .sort((a, b) => byOctets(a.name, b.name));
      return { formType, rest };
    })
    .sort((a, b) => byOctets(a.formType, b.formType));
  for (const form of forms) {
    s += `${form.formType}<`;
    for (const field of form.rest) s += `${field.name}<${field.values.map((v) => `${v}<`).join('')}`;
  }
  return s;
}

/** Hash functions of the IANA registry that XEP-0115 §5.1 names, as Node calls them. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  'sha-1': 'sha1',
  'sha-224': 'sha224',
  'sha-256': 'sha256',
  'sha-384': 'sha384',
  'sha-512': 'sha512',
  md5: 'md5',
};

/** The `ver` of a disco#info result under `hash`; undefined for an algorithm we do not know. */
export function capsVer(query: Element, hash: string): string | undefined {
  const algorithm = ALGORITHMS[hash.toLowerCase()];
  if (algorithm === undefined) return undefined;
  return createHash(algorithm).update(verificationString(query), 'utf8').digest('base64');
}
