export { Jid, bareJid, jid, parseJid, tryParseJid } from './jid.js';
export { JidError, type JidErrorReason, type JidPart } from './errors.js';
export { prepDomainpart } from './domainpart.js';
export { prepLocalpart } from './localpart.js';
export { prepResourcepart } from './resourcepart.js';
