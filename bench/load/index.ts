export {
  runIdleBench,
  runLoginBench,
  runMessagingBench,
  runPresenceBench,
  type BenchReport,
  type CommonOptions,
  type IdleOptions,
  type LoginOptions,
  type MessagingOptions,
  type PresenceOptions,
} from './scenarios.js';
