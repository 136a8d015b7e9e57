import { describe, expect, it } from 'vitest';
import { handshakeDigest, verifyHandshake } from './handshake.js';

// Stream id of XEP-0114 §3 Example 2; digest computed independently with Python's hashlib.sha1.
const STREAM_ID = '3BF96D32';
const DIGEST = 'b09ea9b3b7f586be8a08d0a3dd7466f110aeb136';

describe('component handshake', () => {
  it('is the hex SHA-1 of the stream id followed by the secret', () => {
    expect(handshakeDigest(STREAM_ID, 'secret')).toBe(DIGEST);
  });

  it('accepts the digest in either hex case', () => {
    expect(verifyHandshake(STREAM_ID, 'secret', DIGEST)).toBe(true);
    expect(verifyHandshake(STREAM_ID, 'secret', DIGEST.toUpperCase())).toBe(true);
  });

  it('refuses a digest of another secret, another stream id, or no digest at all', () => {
    expect(verifyHandshake(STREAM_ID, 'other', DIGEST)).toBe(false);
    expect(verifyHandshake('3BF96D33', 'secret', DIGEST)).toBe(false);
    expect(verifyHandshake(STREAM_ID, 'secret', '')).toBe(false);
    expect(verifyHandshake(STREAM_ID, 'secret', `${DIGEST}00`)).toBe(false);
  });
});
