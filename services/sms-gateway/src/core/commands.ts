import { randomUUID } from 'node:crypto';
import { StanzaError } from '@switchboard/component';
import { xml, type Element } from '@switchboard/xml';
import type { Registration } from '../registrations/registrations.js';
import { dataForm, submittedValues, type FormField } from './forms.js';
import type { ClaimOutcome, Registrar } from './registrar.js';

/**
 * XEP-0050 ad-hoc commands `register` and `unregister`. Conversations and
 * other mobile clients do not offer jabber:iq:register for gateways but run
 * commands (as Cheogram's gateways expect), so registration with number
 * verification is also a multi-step command: number → code → done.
 * Sessions keep no state here: the pending verification lives in the store,
 * and which step a submission answers is told by its fields.
 */
export const NS_COMMANDS = 'http://jabber.org/protocol/commands';

export const COMMAND_REGISTER = 'register';
export const COMMAND_UNREGISTER = 'unregister';

export interface CommandsOptions {
  readonly domain: string;
  readonly registrar: Registrar;
  /** XEP-0077 field name → provider account key; asked for in the number step. */
  readonly accountFields: readonly (readonly [string, string])[];
  readonly current: (jid: string) => Promise<Registration | null>;
  /** Presence to send after the command's result, once a registration was stored. */
  readonly afterRegistered: (outcome: Extract<ClaimOutcome, { kind: 'registered' }>) => Element[];
  /** Presence to send after the result of an unregistration. */
  readonly afterRemoved: (jid: string) => Element[];
}

export interface CommandReply {
  readonly command: Element;
  /** Stanzas to send after the iq result (XEP-0100 presence), in order. */
  readonly after: readonly Element[];
}

type Status = 'executing' | 'completed' | 'canceled';

export class RegistrationCommands {
  constructor(private readonly options: CommandsOptions) {}

  /** The disco#items of node `http://jabber.org/protocol/commands` (XEP-0050 §2.2). */
  items(): Element[] {
    return [
      xml('item', { jid: this.options.domain, node: COMMAND_REGISTER, name: 'Register a phone number' }),
      xml('item', { jid: this.options.domain, node: COMMAND_UNREGISTER, name: 'Unregister' }),
    ];
  }

  /** disco#info of one command node (XEP-0050 §2.3); null for other nodes. */
  info(node: string): Element[] | null {
    if (node !== COMMAND_REGISTER && node !== COMMAND_UNREGISTER) return null;
    return [
      xml('identity', { category: 'automation', type: 'command-node', name: node }),
      xml('feature', { var: NS_COMMANDS }),
      xml('feature', { var: 'jabber:x:data' }),
    ];
  }

  async execute(command: Element, jid: string): Promise<CommandReply> {
    const node = command.attrs['node'] ?? '';
    const sessionId = command.attrs['sessionid'] ?? randomUUID();
    const action = command.attrs['action'] ?? 'execute';
    if (node !== COMMAND_REGISTER && node !== COMMAND_UNREGISTER) throw new StanzaError('item-not-found');
    // XEP-0050 §4.3: cancel ends the session.
    if (action === 'cancel') return { command: this.reply(node, sessionId, 'canceled'), after: [] };
    if (node === COMMAND_UNREGISTER) return this.unregister(jid, sessionId);
    const values = submittedValues(command);
    if (values === null) return { command: await this.numberStep(jid, sessionId), after: [] };
    const code = values.get('code');
    const account: Record<string, string> = {};
    for (const [field, key] of this.options.accountFields) account[key] = values.get(field) ?? '';
    try {
      if (code !== undefined) {
        if (code.trim() === '') throw new StanzaError('not-acceptable', 'enter the code from the SMS');
        const outcome = await this.options.registrar.claim(jid, { phone: values.get('phone') ?? '', code });
        return this.done(outcome, sessionId, '');
      }
      for (const [field] of this.options.accountFields) {
        if (values.get(field) === undefined || values.get(field) === '')
          throw new StanzaError('not-acceptable', `the ${field} field is required`);
      }
      const outcome = await this.options.registrar.claim(jid, {
        phone: values.get('phone') ?? '',
        ...(this.options.accountFields.length > 0 ? { account } : {}),
      });
      return this.done(outcome, sessionId, values.get('phone') ?? '');
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      const note = error.text ?? error.condition;
      // No retry helps after too many wrong codes (a new code is a new command).
      if (error.condition === 'not-allowed' || error.condition === 'resource-constraint') {
        return {
          command: this.reply(node, sessionId, 'completed', xml('note', { type: 'error' }, note)),
          after: [],
        };
      }
      const form =
        code === undefined
          ? await this.numberStep(jid, sessionId, note)
          : this.codeStep(sessionId, values.get('phone') ?? '', note);
      return { command: form, after: [] };
    }
  }

  private done(outcome: ClaimOutcome, sessionId: string, phone: string): CommandReply {
    if (outcome.kind === 'code-sent') {
      return { command: this.codeStep(sessionId, phone || outcome.number), after: [] };
    }
    return {
      command: this.reply(
        COMMAND_REGISTER,
        sessionId,
        'completed',
        xml('note', { type: 'info' }, `Registered ${outcome.registration.number}.`),
      ),
      after: this.options.afterRegistered(outcome),
    };
  }

  private async numberStep(jid: string, sessionId: string, error?: string): Promise<Element> {
    const current = await this.options.current(jid);
    const fields: FormField[] = [
      {
        var: 'phone',
        type: 'text-single',
        label: 'Phone number',
        desc: 'International form, e.g. +15551234567',
        required: true,
        value: current?.number ?? '',
      },
      ...this.options.accountFields.map(([field, key]): FormField => ({
        var: field,
        type: field === 'password' ? 'text-private' : 'text-single',
        label: key,
        required: true,
      })),
    ];
    return this.reply(
      COMMAND_REGISTER,
      sessionId,
      'executing',
      xml('actions', { execute: 'next' }, xml('next')),
      error === undefined ? null : xml('note', { type: 'error' }, error),
      dataForm({
        title: 'Register a phone number',
        instructions: this.options.registrar.verifies
          ? 'Enter your phone number. The gateway texts it a code to prove it is yours.'
          : 'Enter your phone number.',
        fields,
      }),
    );
  }

  private codeStep(sessionId: string, phone: string, error?: string): Element {
    return this.reply(
      COMMAND_REGISTER,
      sessionId,
      'executing',
      xml('actions', { execute: 'complete' }, xml('complete')),
      error === undefined ? null : xml('note', { type: 'error' }, error),
      dataForm({
        title: 'Enter the code',
        instructions: `A code was texted to ${phone}. Enter it here.`,
        fields: [
          { var: 'phone', type: 'hidden', value: phone },
          { var: 'code', type: 'text-single', label: 'Code', required: true },
        ],
      }),
    );
  }

  private async unregister(jid: string, sessionId: string): Promise<CommandReply> {
    const removed = await this.options.registrar.remove(jid);
    const note = removed
      ? xml('note', { type: 'info' }, 'Unregistered. The gateway forgot your number.')
      : xml('note', { type: 'error' }, 'You are not registered.');
    return {
      command: this.reply(COMMAND_UNREGISTER, sessionId, 'completed', note),
      after: removed ? this.options.afterRemoved(jid) : [],
    };
  }

  private reply(node: string, sessionId: string, status: Status, ...children: (Element | null)[]): Element {
    return xml('command', { xmlns: NS_COMMANDS, node, sessionid: sessionId, status }, ...children);
  }
}
