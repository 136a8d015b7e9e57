import { runMessagingBench } from './load/index.js';
const r = await runMessagingBench({ peers: ['switchboard'], rates: [2000, 5000], repeats: 1, durationMs: 4000 });
console.log(r.markdown);
