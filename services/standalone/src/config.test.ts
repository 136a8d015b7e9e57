import { describe, expect, it } from 'vitest';
import { consoleSettings, standaloneConfigSchema } from './config.js';

describe('standalone config', () => {
  it('lets the web chat on this machine log in over ws:// on loopback by default, and not when told otherwise', () => {
    expect(standaloneConfigSchema.parse({}).edge.websocket.allowInsecureLoopback).toBe(true);
    expect(
      standaloneConfigSchema.parse({ edge: { websocket: { allowInsecureLoopback: false } } }).edge.websocket
        .allowInsecureLoopback,
    ).toBe(false);
  });

  it("turns the operator console on against this process's admin API once an admin token is set", () => {
    expect(consoleSettings(standaloneConfigSchema.parse({})).adminApiUrl).toBeUndefined();
    const token = 'a-token-of-sixteen-chars';
    const on = consoleSettings(standaloneConfigSchema.parse({ admin: { token }, ops: { port: 9280 } }));
    expect(on).toMatchObject({ adminApiUrl: 'http://127.0.0.1:9280/admin/api/v1', adminToken: token });
    // A port picked at start cannot be known here: the console stays as configured.
    expect(
      consoleSettings(standaloneConfigSchema.parse({ admin: { token }, ops: { port: 0 } })).adminApiUrl,
    ).toBeUndefined();
  });
});
