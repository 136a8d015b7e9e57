// `pnpm bench`: runs every benchmark suite (or those named on the command line)
// and writes bench/RESULTS.md. Figures are ratios against a peer measured in the
// same run on the same machine, never absolute targets.
import { cpus, totalmem } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  runIdleBench,
  runLoginBench,
  runMessagingBench,
  runPresenceBench,
  runReconnectStormBench,
} from './load/index.js';
import { runXmlParserBench } from './xml-parser.js';

export interface BenchResult {
  readonly title: string;
  readonly markdown: string;
  readonly figures: Record<string, number>;
}

const suites: Record<string, () => Promise<BenchResult>> = {
  'xml-parser': runXmlParserBench,
  'load-idle': () => runIdleBench(),
  'load-login': () => runLoginBench(),
  'load-messaging': () => runMessagingBench(),
  'load-presence': () => runPresenceBench(),
  'load-cluster': runClusterMessagingBench,
  'load-reconnect': () => runReconnectStormBench(),
};

/**
 * The 500-user messaging sweep for Switchboard's cluster mode (1 or 2 edges + 1 or 2 routers +
 * Redis) against the embedded process and ejabberd: what the Redis hop costs per message
 * (ARCHITECTURE.md, "Performance budget" counts every process, Redis included).
 */
function runClusterMessagingBench(): Promise<BenchResult> {
  const embedded = 'switchboard';
  const one = 'switchboard-cluster';
  const two = 'switchboard-cluster-2r';
  // 2 edges + 1 router: users alternate between the edges (user i on edge i mod 2).
  const twoEdges = 'switchboard-cluster-2e';
  return runMessagingBench({
    title: 'Cluster mode: 1:1 messaging (500 online users, rate sweep)',
    peers: [embedded, 'ejabberd', one, two, twoEdges],
    rates: [2000, 5000, 10_000, 15_000, 20_000],
    repeats: 2,
    ratios: [
      [one, embedded],
      [two, embedded],
      [two, one],
      [twoEdges, one],
      [one, 'ejabberd'],
      [embedded, 'ejabberd'],
    ],
    note:
      'Pinning: every process of a cluster (edges, routers, redis-server) shares CPU 0, as each other ' +
      'server does, and the generator keeps CPU 1. On this 2-core machine there is no third core, so ' +
      'neither a second router nor a second edge can add capacity here: the 1-vs-2-router rows measure ' +
      'what splitting the 64 partitions across two processes costs on the same CPU budget, and the ' +
      '2-vs-1-edge rows (users alternate between the two edges, so about half the messages leave by ' +
      'the other edge than the one they came in on) what splitting the connections across two edge ' +
      'processes costs, not how the cluster scales out. Giving a second process CPU 1 would take it ' +
      'from the generator and measure the two fighting, so it is not done.',
  });
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !(w in suites));
  if (unknown.length > 0) {
    console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(suites);
  const sections: string[] = [];
  for (const name of names) {
    console.error(`running ${name}…`);
    const result = await suites[name]!();
    console.log(`\n## ${result.title}\n\n${result.markdown}`);
    sections.push(`## ${result.title}\n\n${result.markdown}`);
  }
  // The hand-written record of the hot path's profiles rides along, so a full run keeps it.
  const profile = await readFile(fileURLToPath(new URL('./PROFILE.md', import.meta.url)), 'utf8').catch(
    () => '',
  );
  if (profile.startsWith('## ')) sections.push(profile.trimEnd());
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const header = [
    '# Benchmark results',
    '',
    `Written by \`pnpm bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpu}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. ` +
      'Each table compares against a peer measured in the same run.',
    '',
  ].join('\n');
  const out = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  if (wanted.length === 0) {
    await writeFile(out, `${header}\n${sections.join('\n\n')}\n`);
    console.error(`wrote ${out}`);
  } else if (process.env.BENCH_UPDATE === '0') {
    // BENCH_UPDATE=0 pnpm bench <suite…>: print only, leave RESULTS.md alone.
    console.error(`BENCH_UPDATE=0: ${out} left as it was`);
  } else {
    // pnpm bench <suite…> (BENCH_UPDATE=1 is the same, kept as an alias): replace those sections
    // of RESULTS.md (matched by title), keep the rest.
    const existing = await readFile(out, 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return header;
      throw error;
    });
    await writeFile(out, updateSections(existing, sections));
    console.error(`updated ${names.length} section(s) of ${out}`);
  }
}

/** `existing` with each of `sections` put in place of the section of the same `## ` title, or appended. */
function updateSections(existing: string, sections: readonly string[]): string {
  const parts = existing.split(/\n(?=## )/);
  for (const section of sections) {
    const title = section.slice(0, section.indexOf('\n'));
    const at = parts.findIndex((p) => p.startsWith(`${title}\n`));
    if (at === -1) parts.push(`${section}\n`);
    else parts[at] = `${section}\n`;
  }
  return parts.join('\n');
}

await main();
