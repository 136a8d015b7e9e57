import { describe, expect, it } from 'vitest';
import { NumberTakenError, type Registrations, type SentRecord } from './registrations.js';

/** One suite, both drivers (ARCHITECTURE.md, "Embedded mode"). */
export function registrationsContract(name: string, open: () => Promise<Registrations>): void {
  describe(`registrations contract: ${name}`, () => {
    it('stores a registration and finds it by JID and by number', async () => {
      const store = await open();
      await store.put({ jid: 'juliet@example.com', number: '+15551234567', account: { username: 'AC1' } });
      expect(await store.get('juliet@example.com')).toEqual({
        jid: 'juliet@example.com',
        number: '+15551234567',
        account: { username: 'AC1' },
      });
      expect((await store.byNumber('+15551234567'))?.jid).toBe('juliet@example.com');
      expect(await store.get('romeo@example.com')).toBeNull();
      expect(await store.byNumber('+15550000000')).toBeNull();
    });

    it('refuses a number another JID holds and keeps the holder', async () => {
      const store = await open();
      await store.put({ jid: 'juliet@example.com', number: '+15551234567' });
      await expect(store.put({ jid: 'romeo@example.com', number: '+15551234567' })).rejects.toBeInstanceOf(
        NumberTakenError,
      );
      expect((await store.byNumber('+15551234567'))?.jid).toBe('juliet@example.com');
      expect(await store.get('romeo@example.com')).toBeNull();
    });

    it('changing the number releases the old one for others', async () => {
      const store = await open();
      await store.put({ jid: 'juliet@example.com', number: '+15551234567' });
      await store.put({ jid: 'juliet@example.com', number: '+15557654321' });
      expect(await store.byNumber('+15551234567')).toBeNull();
      expect((await store.byNumber('+15557654321'))?.jid).toBe('juliet@example.com');
      await store.put({ jid: 'romeo@example.com', number: '+15551234567' });
      expect((await store.byNumber('+15551234567'))?.jid).toBe('romeo@example.com');
    });

    it('removal forgets the registration and its number', async () => {
      const store = await open();
      await store.put({ jid: 'juliet@example.com', number: '+15551234567' });
      expect(await store.remove('juliet@example.com')).toBe(true);
      expect(await store.remove('juliet@example.com')).toBe(false);
      expect(await store.get('juliet@example.com')).toBeNull();
      expect(await store.byNumber('+15551234567')).toBeNull();
    });

    it('records opt-outs per contact and own number, and START clears them', async () => {
      const store = await open();
      await store.setOptOut('+15550001111', '+15551234567', true);
      expect(await store.isOptedOut('+15550001111', '+15551234567')).toBe(true);
      expect(await store.isOptedOut('+15550001111', '+15557654321')).toBe(false);
      await store.setOptOut('+15550001111', '+15551234567', false);
      expect(await store.isOptedOut('+15550001111', '+15551234567')).toBe(false);
    });

    it('lists every opt-out, and forgets one that START cleared', async () => {
      const store = await open();
      expect(await store.listOptOuts()).toEqual([]);
      await store.setOptOut('+15550002222', '+15551234567', true);
      await store.setOptOut('+15550001111', '+15557654321', true);
      await store.setOptOut('+15550001111', '+15551234567', true);
      await store.setOptOut('+15550001111', '+15551234567', true);
      expect(await store.listOptOuts()).toEqual([
        { contact: '+15550001111', own: '+15551234567' },
        { contact: '+15550001111', own: '+15557654321' },
        { contact: '+15550002222', own: '+15551234567' },
      ]);
      await store.setOptOut('+15550002222', '+15551234567', false);
      await store.setOptOut('+15550001111', '+15557654321', false);
      expect(await store.listOptOuts()).toEqual([{ contact: '+15550001111', own: '+15551234567' }]);
    });

    it('lists every registration', async () => {
      const store = await open();
      await store.put({ jid: 'juliet@example.com', number: '+15551234567' });
      await store.put({ jid: 'romeo@example.com', number: '+15557654321', account: { username: 'AC1' } });
      const listed = await store.list();
      expect(listed.map((r) => r.jid).sort()).toEqual(['juliet@example.com', 'romeo@example.com']);
      expect(listed.find((r) => r.jid === 'romeo@example.com')?.account).toEqual({ username: 'AC1' });
    });

    it('keeps a pending verification until it expires, counts wrong codes, and forgets it on removal', async () => {
      const store = await open();
      const pending = {
        jid: 'juliet@example.com',
        number: '+15551234567',
        account: { username: 'AC1' },
        codeHash: 'abc',
        expiresAt: Date.now() + 60_000,
        failures: 0,
      };
      expect(await store.failVerification('juliet@example.com')).toBe(0);
      await store.putVerification(pending);
      expect(await store.getVerification('juliet@example.com')).toEqual(pending);
      expect(await store.failVerification('juliet@example.com')).toBe(1);
      expect(await store.failVerification('juliet@example.com')).toBe(2);
      expect((await store.getVerification('juliet@example.com'))?.failures).toBe(2);
      // A new code starts over.
      await store.putVerification({ ...pending, codeHash: 'def' });
      expect(await store.getVerification('juliet@example.com')).toMatchObject({
        codeHash: 'def',
        failures: 0,
      });
      await store.removeVerification('juliet@example.com');
      expect(await store.getVerification('juliet@example.com')).toBeNull();
      await store.putVerification({ ...pending, expiresAt: Date.now() - 1 });
      expect(await store.getVerification('juliet@example.com')).toBeNull();
      expect(await store.failVerification('juliet@example.com')).toBe(0);
    });

    it('counts verification codes sent per JID', async () => {
      const store = await open();
      expect(await store.countCodeSend('juliet@example.com', 60_000)).toBe(1);
      expect(await store.countCodeSend('juliet@example.com', 60_000)).toBe(2);
      expect(await store.countCodeSend('romeo@example.com', 60_000)).toBe(1);
    });

    it('records HELP per contact and own number: the last time and a count', async () => {
      const store = await open();
      expect(await store.lastHelp('+15550001111', '+15551234567')).toBeNull();
      await store.recordHelp('+15550001111', '+15551234567', 1000);
      await store.recordHelp('+15550001111', '+15551234567', 2000);
      expect(await store.lastHelp('+15550001111', '+15551234567')).toEqual({ at: 2000, count: 2 });
      expect(await store.lastHelp('+15550001111', '+15557654321')).toBeNull();
    });

    it('a sent record is taken once, by any of its provider ids', async () => {
      const store = await open();
      const record: SentRecord = {
        sender: 'juliet@example.com/balcony',
        contact: '+15550001111@sms.example.com',
        stanzaId: 'msg-1',
        wantReceipt: true,
        providerMessageIds: ['seg-1', 'seg-2'],
      };
      await store.rememberSent(record, 60_000);
      expect(await store.takeSent('seg-2')).toEqual(record);
      expect(await store.takeSent('seg-1')).toBeNull();
      expect(await store.takeSent('seg-2')).toBeNull();
    });
  });
}
