import { describe, expect, it } from 'vitest';
import { parseCommand, unescapeText } from './commands.js';

describe('parseCommand', () => {
  it('reads /join with a room and a nick that may hold spaces', () => {
    expect(parseCommand('/join coven@chat.shakespeare.lit thirdwitch')).toEqual({
      kind: 'join',
      room: 'coven@chat.shakespeare.lit',
      nick: 'thirdwitch',
    });
    expect(parseCommand('  /JOIN coven@chat.shakespeare.lit  Third Witch ')).toEqual({
      kind: 'join',
      room: 'coven@chat.shakespeare.lit',
      nick: 'Third Witch',
    });
  });

  it('reads /join without a nick, and without anything (accept the invitation)', () => {
    expect(parseCommand('/join coven')).toEqual({ kind: 'join', room: 'coven' });
    expect(parseCommand('/join')).toEqual({ kind: 'join' });
    expect(parseCommand('/j coven')).toEqual({ kind: 'join', room: 'coven' });
  });

  it('reads /leave, /part, /who and /room with and without a room', () => {
    expect(parseCommand('/leave')).toEqual({ kind: 'leave' });
    expect(parseCommand('/part coven')).toEqual({ kind: 'leave', room: 'coven' });
    expect(parseCommand('/who')).toEqual({ kind: 'who' });
    expect(parseCommand('/who coven@chat.shakespeare.lit')).toEqual({
      kind: 'who',
      room: 'coven@chat.shakespeare.lit',
    });
    expect(parseCommand('/room heath')).toEqual({ kind: 'room', room: 'heath' });
  });

  it('reads /nick and /msg, and asks for usage when their arguments are missing', () => {
    expect(parseCommand('/nick oldhag')).toEqual({ kind: 'nick', nick: 'oldhag' });
    expect(parseCommand('/nick')).toEqual({ kind: 'usage', command: 'nick' });
    expect(parseCommand('/msg firstwitch When shall we three meet again?')).toEqual({
      kind: 'msg',
      rest: 'firstwitch When shall we three meet again?',
    });
    expect(parseCommand('/msg firstwitch')).toEqual({ kind: 'usage', command: 'msg' });
  });

  it('reads /help and names unknown commands', () => {
    expect(parseCommand('/help')).toEqual({ kind: 'help' });
    expect(parseCommand('/HELP me')).toEqual({ kind: 'help' });
    expect(parseCommand('/shrug')).toEqual({ kind: 'unknown', name: 'shrug' });
  });

  it('leaves ordinary texts, a lone slash and //-escaped texts alone', () => {
    expect(parseCommand('Fair is foul, and foul is fair')).toBeNull();
    expect(parseCommand('/')).toBeNull();
    expect(parseCommand('/ not a command')).toBeNull();
    expect(parseCommand('//join is a command')).toBeNull();
    expect(parseCommand('and/or')).toBeNull();
    expect(unescapeText('//join is a command')).toBe('/join is a command');
    expect(unescapeText('plain')).toBe('plain');
  });
});
