import { embedded } from './deployments.js';
import { scenarioSuite } from './scenarios.js';

// Edge and router in one process on the in-process bus and the embedded store (`pnpm start`).
scenarioSuite('embedded (one process, in-process bus, embedded store)', embedded);
