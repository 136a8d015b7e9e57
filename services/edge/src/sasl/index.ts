export type {
  AccountStatus,
  ChannelBindingType,
  Credentials,
  SaslChallenge,
  SaslCondition,
  SaslContext,
  SaslFailure,
  SaslServer,
  SaslStep,
  SaslSuccess,
  ScramCredential,
  TlsChannel,
} from './types.js';
export {
  SASL_CHANNEL_BINDING_NS,
  channelBindingFeature,
  createMechanism,
  mechanismsFor,
  type MechanismName,
  type StreamSecurity,
} from './mechanisms.js';
export { channelBindingsOf, endPointHashName, serverEndPointHash } from './tls-binding.js';
export { decodePayload, encodePayload } from './base64.js';
export {
  DEFAULT_ITERATIONS,
  SaslPrepError,
  deriveCredentials,
  deriveScramCredential,
  type DeriveOptions,
  type ScramMechanism,
} from './credentials.js';
export {
  LoginThrottle,
  ipKey,
  type LoginThrottleOptions,
  type ThrottleDecision,
  type ThrottleLimit,
} from './throttle.js';
