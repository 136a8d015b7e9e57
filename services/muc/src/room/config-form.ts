import { xml, type Element } from '@switchboard/xml';
import type { PmPolicy, RoomConfig } from '../storage/storage.js';
import { NS } from './namespaces.js';
import { StanzaError } from './stanza-error.js';

/** What the owner changes on submit besides the configuration: the owner and admin lists (§15.5.3). */
export interface SubmittedConfig {
  readonly config: RoomConfig;
  readonly owners?: readonly string[];
  readonly admins?: readonly string[];
}

export function defaultRoomConfig(overrides: Partial<RoomConfig> = {}): RoomConfig {
  return {
    name: '',
    description: '',
    persistent: false,
    public: true,
    membersOnly: false,
    moderated: false,
    password: '',
    whois: 'moderators',
    changeSubject: false,
    allowInvites: false,
    allowPm: 'anyone',
    maxUsers: 0,
    logging: false,
    language: '',
    ...overrides,
  };
}

const PM_POLICIES: readonly PmPolicy[] = ['anyone', 'participants', 'moderators', 'none'];
const MAX_USERS = ['10', '20', '30', '50', '100', 'none'];

function field(
  varName: string,
  type: string,
  label: string,
  values: readonly string[],
  options?: readonly (readonly [string, string])[],
): Element {
  return xml(
    'field',
    { var: varName, type, label },
    (options ?? []).map(([value, optionLabel]) =>
      xml('option', { label: optionLabel }, xml('value', {}, value)),
    ),
    values.map((v) => xml('value', {}, v)),
  );
}

const bool = (b: boolean): string => (b ? '1' : '0');

/** The muc#roomconfig form for an owner (XEP-0045 §10.2, fields of §15.5.3). */
export function roomConfigForm(
  config: RoomConfig,
  owners: readonly string[],
  admins: readonly string[],
): Element {
  return xml(
    'x',
    { xmlns: NS.DATA, type: 'form' },
    xml('title', {}, `Configuration of ${config.name === '' ? 'the room' : config.name}`),
    field('FORM_TYPE', 'hidden', '', [NS.MUC_ROOMCONFIG]),
    field('muc#roomconfig_roomname', 'text-single', 'Natural-Language Room Name', [config.name]),
    field('muc#roomconfig_roomdesc', 'text-single', 'Short Description of Room', [config.description]),
    field('muc#roomconfig_lang', 'text-single', 'Natural Language for Room Discussions', [config.language]),
    field('muc#roomconfig_persistentroom', 'boolean', 'Make Room Persistent?', [bool(config.persistent)]),
    field('muc#roomconfig_publicroom', 'boolean', 'Make Room Publicly Searchable?', [bool(config.public)]),
    field('muc#roomconfig_membersonly', 'boolean', 'Make Room Members-Only?', [bool(config.membersOnly)]),
    field('muc#roomconfig_moderatedroom', 'boolean', 'Make Room Moderated?', [bool(config.moderated)]),
    field('muc#roomconfig_passwordprotectedroom', 'boolean', 'Password Required to Enter?', [
      bool(config.password !== ''),
    ]),
    field('muc#roomconfig_roomsecret', 'text-private', 'Password', [config.password]),
    field(
      'muc#roomconfig_whois',
      'list-single',
      'Who May Discover Real JIDs?',
      [config.whois],
      [
        ['moderators', 'Moderators Only'],
        ['anyone', 'Anyone'],
      ],
    ),
    field('muc#roomconfig_changesubject', 'boolean', 'Allow Occupants to Change Subject?', [
      bool(config.changeSubject),
    ]),
    field('muc#roomconfig_allowinvites', 'boolean', 'Allow Occupants to Invite Others?', [
      bool(config.allowInvites),
    ]),
    field(
      'muc#roomconfig_allowpm',
      'list-single',
      'Roles that May Send Private Messages',
      [config.allowPm],
      PM_POLICIES.map((p) => [p, p] as const),
    ),
    field(
      'muc#roomconfig_maxusers',
      'list-single',
      'Maximum Number of Occupants',
      [config.maxUsers === 0 ? 'none' : String(config.maxUsers)],
      MAX_USERS.map((m) => [m, m] as const),
    ),
    field('muc#roomconfig_enablelogging', 'boolean', 'Enable Public Logging?', [bool(config.logging)]),
    field('muc#roomconfig_roomowners', 'jid-multi', 'Room Owners', owners),
    field('muc#roomconfig_roomadmins', 'jid-multi', 'Room Admins', admins),
  );
}

/** The values of a submitted data form (XEP-0004 §3.2), by var. */
export function formValues(form: Element): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const f of form.getChildren('field')) {
    const name = f.attrs['var'];
    if (name === undefined) continue;
    values.set(
      name,
      f.getChildren('value').map((v) => v.getText()),
    );
  }
  return values;
}

function parseBool(value: string): boolean {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new StanzaError('not-acceptable', `not a boolean: ${value}`);
}

/**
 * Applies a submitted form to `current` (XEP-0045 §10.2): fields left out keep
 * their values; an empty submit (instant room, §10.1.2) changes nothing.
 */
export function applyConfigForm(current: RoomConfig, form: Element): SubmittedConfig {
  const values = formValues(form);
  const formType = values.get('FORM_TYPE')?.[0];
  if (formType !== undefined && formType !== NS.MUC_ROOMCONFIG)
    throw new StanzaError('bad-request', 'not a muc#roomconfig form');
  const one = (name: string): string | undefined => values.get(`muc#roomconfig_${name}`)?.[0];
  const flag = (name: string, fallback: boolean): boolean => {
    const v = one(name);
    return v === undefined ? fallback : parseBool(v);
  };
  let password = one('roomsecret') ?? current.password;
  if (!flag('passwordprotectedroom', current.password !== '')) password = '';
  const whois = one('whois') ?? current.whois;
  if (whois !== 'moderators' && whois !== 'anyone') throw new StanzaError('not-acceptable', 'whois');
  const allowPm = one('allowpm') ?? current.allowPm;
  if (!(PM_POLICIES as readonly string[]).includes(allowPm))
    throw new StanzaError('not-acceptable', 'allowpm');
  const maxUsersValue = one('maxusers');
  let maxUsers = current.maxUsers;
  if (maxUsersValue !== undefined) {
    maxUsers = maxUsersValue === 'none' || maxUsersValue === '' ? 0 : Number(maxUsersValue);
    if (!Number.isInteger(maxUsers) || maxUsers < 0) throw new StanzaError('not-acceptable', 'maxusers');
  }
  const owners = values.get('muc#roomconfig_roomowners');
  const admins = values.get('muc#roomconfig_roomadmins');
  return {
    config: {
      name: one('roomname') ?? current.name,
      description: one('roomdesc') ?? current.description,
      language: one('lang') ?? current.language,
      persistent: flag('persistentroom', current.persistent),
      public: flag('publicroom', current.public),
      membersOnly: flag('membersonly', current.membersOnly),
      moderated: flag('moderatedroom', current.moderated),
      password,
      whois,
      changeSubject: flag('changesubject', current.changeSubject),
      allowInvites: flag('allowinvites', current.allowInvites),
      allowPm: allowPm as PmPolicy,
      maxUsers,
      logging: flag('enablelogging', current.logging),
    },
    ...(owners === undefined ? {} : { owners }),
    ...(admins === undefined ? {} : { admins }),
  };
}
