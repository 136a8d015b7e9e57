// Regenerates the shipped deploy/haproxy/haproxy.cfg from its template:
//   node --import tsx test/cluster/render-haproxy.ts
import { writeFileSync } from 'node:fs';
import { composeHaproxyValues, HAPROXY_SHIPPED, renderHaproxyConfig } from './haproxy.js';

writeFileSync(HAPROXY_SHIPPED, renderHaproxyConfig(composeHaproxyValues()));
