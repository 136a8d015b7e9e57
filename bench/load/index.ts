export {
  runIdleBench,
  runLoginBench,
  runMessagingBench,
  runPresenceBench,
  runReconnectStormBench,
  type BenchReport,
  type CommonOptions,
  type IdleOptions,
  type LoginOptions,
  type MessagingOptions,
  type PresenceOptions,
  type ReconnectStormOptions,
} from './scenarios.js';
