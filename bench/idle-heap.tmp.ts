import { switchboard } from './peers/switchboard.js';
import { BenchClient } from './load/client.js';
const N = Number(process.argv[2] ?? 1000);
const users = Array.from({ length: N }, (_, i) => `u${i}`);
const peer = await switchboard.start({ users, password: 'pw' });
if ('skipped' in peer) throw new Error(peer.skipped);
const clients: BenchClient[] = [];
for (let i = 0; i < N; i += 50) {
  clients.push(...(await Promise.all(users.slice(i, i + 50).map((u) => BenchClient.open(peer.target, { username: u, password: 'pw' })))));
}
console.log('logged in', clients.length, 'pid', peer.pids);
await new Promise((r) => setTimeout(r, 2000));
process.kill(peer.pids[0]!, 'SIGUSR2');
await new Promise((r) => setTimeout(r, 8000));
await Promise.all(clients.map((c) => c.close()));
await peer.stop();
