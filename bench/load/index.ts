export {
  runIdleBench,
  runLoginBench,
  runMessagingBench,
  type BenchReport,
  type CommonOptions,
  type IdleOptions,
  type LoginOptions,
  type MessagingOptions,
} from './scenarios.js';
