export { Script, type ScriptClient } from './script.js';
export {
  acquireLease,
  heartbeat,
  releaseLease,
  removeIfSilent,
  renewLease,
  silentMembers,
} from './scripts.js';
export { release, renew, tryAcquire, type HeldLease, type LeaseKeys } from './lease.js';
export { assignPartitions } from './assignment.js';
export { heartbeatShare, renewHeld, type LeaseLog, type Share } from './members.js';
