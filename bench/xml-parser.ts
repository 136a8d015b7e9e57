/**
 * XML parser benchmark: the same stream of typical chat stanzas, cut into
 * socket-sized chunks, through (a) our StreamParser with each engine
 * (hand-written `native`, and `saxes`), (b) ltx's parser with the element
 * building @xmpp/xml does on top of it, and (c) raw saxes with no checks and
 * no elements. Also one-shot parsing of single stanzas (the router's path)
 * with each engine against ltx.parse. The native engine is the default only
 * while it is at least 2x the saxes one (project rule for hand-written parsers).
 *
 * Run alone: node --import tsx bench/xml-parser.ts
 */
import { createRequire } from 'node:module';
import { StringDecoder } from 'node:string_decoder';
import { pathToFileURL } from 'node:url';
import { DEFAULT_ENGINE, StreamParser, parseElement, type XmlEngine } from '../packages/xml/src/index.js';

// ltx and saxes are dependencies of packages/xml, resolved from there.
const requireFromXml = createRequire(new URL('../packages/xml/package.json', import.meta.url));

interface EmitterLike {
  on(event: string, listener: (...args: never[]) => void): unknown;
  write(data: string): void;
}
interface LtxElementLike {
  parent?: LtxElementLike | null;
  cnode(child: LtxElementLike): LtxElementLike;
  t(text: string): LtxElementLike;
}
type LtxElementCtor = new (name: string, attrs: Record<string, string>) => LtxElementLike;
interface SaxesLike {
  on(event: string, listener: (arg: never) => void): void;
  write(chunk: string): unknown;
}

const LtxSax = requireFromXml('ltx/lib/parsers/ltx.js') as new () => EmitterLike;
const LtxElement = requireFromXml('ltx/lib/Element.js') as LtxElementCtor;
const ltxParse = requireFromXml('ltx/lib/parse.js') as (xml: string) => unknown satisfies (
  xml: string,
) => unknown;
const { SaxesParser } = requireFromXml('saxes') as { SaxesParser: new (opts: object) => SaxesLike };

const HEADER =
  "<?xml version='1.0'?><stream:stream from='juliet@im.example.com' to='im.example.com' version='1.0' " +
  "xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

const BODIES = [
  'Art thou not Romeo, and a Montague? Neither, fair saint, if either thee dislike. How camest thou hither, tell me, and wherefore? The orchard walls are high and hard to climb.',
  'Meeting moved to 15:00 — see the agenda in the shared folder. Bring the Q3 numbers & the draft <final> slides, please!',
  'Ça va ? On se retrouve à la gare, près du café. 今日は天気がいいですね。 See you soon 🙂👍',
];

function message(i: number): string {
  const body = BODIES[i % BODIES.length]!;
  return (
    `<message from='juliet@im.example.com/balcony' id='msg-${i}-ktx72v49' to='romeo@example.net' type='chat' xml:lang='en'>` +
    `<body>${body.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</body>` +
    `<active xmlns='http://jabber.org/protocol/chatstates'/>` +
    `<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='${i}-a1b2c3d4e5f6'/>` +
    `</message>`
  );
}

function presence(i: number): string {
  return (
    `<presence from='romeo@example.net/orchard-${i}'><show>away</show><status>In the orchard</status><priority>5</priority>` +
    `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>` +
    `</presence>`
  );
}

function roster(i: number): string {
  return (
    `<iq id='roster-${i}' to='juliet@example.com/balcony' type='result'><query xmlns='jabber:iq:roster' ver='ver${i}'>` +
    `<item jid='nurse@example.com' name='Nurse' subscription='both'><group>Servants</group></item>` +
    `<item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item>` +
    `</query></iq>`
  );
}

interface Corpus {
  chunks: Buffer[];
  stanzas: string[];
  stanzaCount: number;
  bytes: number;
}

function buildCorpus(stanzaCount: number, chunkSize: number): Corpus {
  const stanzas: string[] = [];
  for (let i = 0; i < stanzaCount; i++) {
    // Chat traffic is mostly messages: 6 messages, 3 presences, 1 roster result per 10.
    const k = i % 10;
    stanzas.push(k < 6 ? message(i) : k < 9 ? presence(i) : roster(i));
  }
  const all = Buffer.from(HEADER + stanzas.join('\n') + '</stream:stream>');
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += chunkSize) chunks.push(all.subarray(at, at + chunkSize));
  return { chunks, stanzas, stanzaCount, bytes: all.length };
}

function runOurs(engine: XmlEngine): (corpus: Corpus) => number {
  return (corpus) => {
    let count = 0;
    const parser = new StreamParser(
      {
        stanza: () => {
          count++;
        },
        error: (err) => {
          throw err;
        },
      },
      { engine },
    );
    for (const chunk of corpus.chunks) parser.write(chunk);
    parser.end();
    return count;
  };
}

function runLtx(corpus: Corpus): number {
  // What @xmpp/xml's Parser does: build elements below the root, emit each depth-1 child.
  let count = 0;
  const sax = new LtxSax();
  const decoder = new StringDecoder('utf8');
  let depth = 0;
  let el: LtxElementLike | undefined;
  sax.on('startElement', (name: string, attrs: Record<string, string>) => {
    depth++;
    if (depth === 1) return;
    const child = new LtxElement(name, attrs);
    el = el === undefined ? child : el.cnode(child);
  });
  sax.on('endElement', () => {
    depth--;
    if (el === undefined) return;
    if (depth === 1) {
      count++;
      el = undefined;
    } else el = el.parent ?? undefined;
  });
  sax.on('text', (text: string) => {
    el?.t(text);
  });
  for (const chunk of corpus.chunks) sax.write(decoder.write(chunk));
  return count;
}

function runSaxes(corpus: Corpus): number {
  let count = 0;
  let depth = 0;
  const sax = new SaxesParser({ position: false });
  sax.on('opentag', () => {
    depth++;
  });
  sax.on('closetag', () => {
    if (--depth === 1) count++;
  });
  sax.on('text', () => undefined);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const chunk of corpus.chunks) sax.write(decoder.decode(chunk, { stream: true }));
  return count;
}

function runParseElement(engine: XmlEngine): (corpus: Corpus) => number {
  return (corpus) => {
    for (const s of corpus.stanzas) parseElement(s, { defaultNamespace: 'jabber:client', engine });
    return corpus.stanzas.length;
  };
}

function runLtxParse(corpus: Corpus): number {
  for (const s of corpus.stanzas) ltxParse(s);
  return corpus.stanzas.length;
}

interface Result {
  name: string;
  stanzasPerSec: number;
  mbPerSec: number;
}

function measure(
  name: string,
  corpus: Corpus,
  run: (c: Corpus) => number,
  seconds: number,
  warmUp: boolean,
): Result {
  const expected = corpus.stanzaCount;
  // Warm up so the JIT has compiled the hot path (and check the count once).
  const warmUntil = performance.now() + (warmUp ? 300 : 0);
  do {
    if (run(corpus) !== expected) throw new Error(`${name} parsed a wrong number of stanzas`);
  } while (performance.now() < warmUntil);
  let stanzas = 0;
  let passes = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    stanzas += run(corpus);
    passes++;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { name, stanzasPerSec: stanzas / elapsed, mbPerSec: (passes * corpus.bytes) / elapsed / 1e6 };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export async function runXmlParserBench(): Promise<{
  title: string;
  markdown: string;
  figures: Record<string, number>;
}> {
  const corpus = buildCorpus(5000, 16 * 1024);
  // The machine runs other work: many short interleaved rounds, best of each kept.
  const seconds = 3;
  const rounds = 8;
  const contenders: [string, (c: Corpus) => number][] = [
    ['@switchboard/xml StreamParser, native engine', runOurs('native')],
    ['@switchboard/xml StreamParser, saxes engine', runOurs('saxes')],
    ['ltx parser + elements (as @xmpp/xml)', runLtx],
    ['saxes, raw events, no checks', runSaxes],
  ];
  const oneShot: [string, (c: Corpus) => number][] = [
    ['@switchboard/xml parseElement, native engine', runParseElement('native')],
    ['@switchboard/xml parseElement, saxes engine', runParseElement('saxes')],
    ['ltx.parse', runLtxParse],
  ];
  // Interleave rounds so drift in machine load hits every contender alike; keep the best.
  const best = new Map<string, Result>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of [...contenders, ...oneShot]) {
      const r = measure(name, corpus, run, seconds / rounds, round === 0);
      const prev = best.get(name);
      if (prev === undefined || r.stanzasPerSec > prev.stanzasPerSec) best.set(name, r);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const get = (name: string): Result => best.get(name)!;
  const native = get(contenders[0]![0]);
  const saxesEngine = get(contenders[1]![0]);
  const ltx = get(contenders[2]![0]);
  const saxes = get(contenders[3]![0]);
  const nativeOne = get(oneShot[0]![0]);
  const saxesOne = get(oneShot[1]![0]);
  const ltxOne = get(oneShot[2]![0]);
  const streamRatio = native.stanzasPerSec / saxesEngine.stanzasPerSec;
  const oneShotRatio = nativeOne.stanzasPerSec / saxesOne.stanzasPerSec;
  const wins = streamRatio >= 2 && oneShotRatio >= 2;
  const avgStanza = Math.round(
    corpus.stanzas.reduce((n, s) => n + Buffer.byteLength(s), 0) / corpus.stanzaCount,
  );

  const rows = [...contenders, ...oneShot].map(([name]) => {
    const r = get(name);
    return `| ${name} | ${fmt(r.stanzasPerSec)} | ${fmt(r.mbPerSec, 1)} | ${fmt(1e6 / r.stanzasPerSec, 1)} |`;
  });
  const markdown = [
    '| parser | stanzas/s | MB/s | µs/stanza |',
    '|---|---:|---:|---:|',
    ...rows,
    '',
    `Native / saxes engine: **${fmt(streamRatio, 2)}×** streaming, **${fmt(oneShotRatio, 2)}×** one-shot ` +
      `(${wins ? 'at least 2×: native is the default' : 'below 2×: saxes should stay the default'}; ` +
      `default now: ${DEFAULT_ENGINE}). ` +
      `Native / ltx: ${fmt(native.stanzasPerSec / ltx.stanzasPerSec, 2)}× streaming, ` +
      `${fmt(nativeOne.stanzasPerSec / ltxOne.stanzasPerSec, 2)}× one-shot.`,
    '',
    `Node ${process.version}; ${corpus.stanzaCount} stanzas (6 messages, 3 presences with caps, 1 roster result in 10; ` +
      `a third of the bodies non-ASCII), ${avgStanza} bytes on average, ${fmt(corpus.bytes / 1e6, 2)} MB per pass, ` +
      `fed as 16 KiB chunks cut anywhere. Best of ${rounds} interleaved rounds of ${fmt(seconds / rounds, 1)} s ` +
      `per contender, after warm-up, since the machine is shared with other work. Both engines run the same ` +
      `RFC 6120 §11 checks, UTF-8 validation and limits (the same test suite, plus differential fuzzing); ` +
      `ltx does none of them; raw saxes builds no elements.`,
  ].join('\n');
  return {
    title: 'XML stream parser',
    markdown,
    figures: {
      oursStanzasPerSec: native.stanzasPerSec,
      oursMBPerSec: native.mbPerSec,
      saxesEngineStanzasPerSec: saxesEngine.stanzasPerSec,
      nativeOverSaxesEngine: streamRatio,
      ltxStanzasPerSec: ltx.stanzasPerSec,
      ltxMBPerSec: ltx.mbPerSec,
      saxesStanzasPerSec: saxes.stanzasPerSec,
      saxesMBPerSec: saxes.mbPerSec,
      oursOverLtx: native.stanzasPerSec / ltx.stanzasPerSec,
      parseElementPerSec: nativeOne.stanzasPerSec,
      parseElementSaxesPerSec: saxesOne.stanzasPerSec,
      parseElementNativeOverSaxes: oneShotRatio,
      ltxParsePerSec: ltxOne.stanzasPerSec,
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { title, markdown } = await runXmlParserBench();
  console.log(`## ${title}\n\n${markdown}`);
}
