// Operator actions on the gateway's queue and registrations (docs/admin-api.md, "SMS").
export * from './operations.js';
export { SMS_ADMIN_PREFIX, smsAdminApi, type SmsAdminApiOptions } from './routes.js';
