// `pnpm bench`: runs every benchmark suite (or those named on the command line)
// and writes bench/RESULTS.md. Figures are ratios against a peer measured in the
// same run on the same machine, never absolute targets.
import { cpus, totalmem } from 'node:os';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runIdleBench, runLoginBench, runMessagingBench } from './load/index.js';
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
};

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
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const header = [
    '# Benchmark results',
    '',
    `Written by \`pnpm bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpu}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. ` +
      'Each table compares against a peer measured in the same run.',
    '',
  ].join('\n');
  if (wanted.length === 0) {
    const out = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
    await writeFile(out, `${header}\n${sections.join('\n\n')}\n`);
    console.error(`wrote ${out}`);
  }
}

await main();
