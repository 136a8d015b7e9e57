/** XEP-0288 namespaces: the stream feature the receiving server offers, and the initiator's request (§2). */
export const NS_BIDI_FEATURE = 'urn:xmpp:features:bidi';
export const NS_BIDI = 'urn:xmpp:bidi';
