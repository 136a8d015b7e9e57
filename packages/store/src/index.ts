export type {
  Account,
  AccountListOptions,
  AccountStore,
  BlocklistStore,
  Credentials,
  OfflineMessage,
  OfflineStore,
  PrivateXmlStore,
  Roster,
  RosterDelta,
  RosterItem,
  RosterMutation,
  RosterStore,
  RosterUpdate,
  ScramCredential,
  ScramMechanism,
  Store,
  StoreLimits,
  Subscription,
  VCardStore,
} from './store.js';
export {
  AccountExistsError,
  AccountNotFoundError,
  BlocklistFullError,
  InvalidCredentialsError,
  InvalidRosterItemError,
  OfflineFullError,
  PrivateStorageFullError,
  RosterFullError,
  StoreError,
  TooLargeError,
} from './errors.js';
export { DEFAULT_SCRAM_ITERATIONS, deriveCredentials, deriveScramCredential } from './scram.js';
export { DEFAULT_EMBEDDED_PATH, openEmbeddedStore, type EmbeddedStoreOptions } from './embedded.js';
export { AccountIndexKeys, createRedisStore, userKeys, type RedisStoreOptions } from './redis.js';
