export { MucService, type MucServiceOptions } from './service.js';
export { Room, type RoomContext, type RoomOutcome } from './room.js';
export { defaultRoomConfig, roomConfigForm, applyConfigForm } from './config-form.js';
export { StanzaError, errorReply, type StanzaErrorCondition } from './stanza-error.js';
export { NS as MUC_NS } from './namespaces.js';
