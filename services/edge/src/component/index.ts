export { ComponentListener, type ComponentListenerOptions } from './listener.js';
export { handshakeDigest, verifyHandshake } from './handshake.js';
