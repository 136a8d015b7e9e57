export {
  SmsGateway,
  NS_GATEWAY,
  NS_OOB,
  NS_RECEIPTS,
  NS_REGISTER,
  type AccountField,
  type AccountFields,
  type GatewayOptions,
} from './gateway.js';
export { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
export { isE164, normalizeNumber } from './numbers.js';
export { DEFAULT_KEYWORD_REPLIES, keywordOf, type Keyword, type KeywordReplies } from './keywords.js';
export {
  StanzaError,
  errorReply,
  type StanzaErrorCondition,
  type StanzaErrorType,
} from '@switchboard/component';
