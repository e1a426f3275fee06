/**
 * The delivery pipeline on its own: batches processed and written in order, each exactly once,
 * progress handed back only after its batch was written, the write of one batch overlapping the
 * processing of the next, and batches with nothing to write (all excluded, or progress marks only)
 * mixed in, which complete at once.
 */
import t from 'tap';
import type { DecodedMessage } from '../../src/enrich/index.ts';
import { ndjsonOfTexts, type NdjsonChunk, type Sink } from '../../src/sink/index.ts';
import type { BatchEnricher, SourceBatch } from '../../src/source/index.ts';
import { DeliveryPipeline } from '../../src/source/delivery.ts';
import { recordingLogger, testMetrics, waitFor } from './fixtures.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('in order, once each, progress after the write; writes overlap the next batch\'s processing', async (t) => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const written: string[] = [];
  const processed: string[][] = [];
  let writesUnderWay = 0;
  let processedDuringAWrite = 0;
  // Lines of files named "excluded*" are dropped by the stage, as the enricher drops excluded pods.
  const stage: BatchEnricher = {
    name: 'test',
    async processBatch(batch: SourceBatch): Promise<NdjsonChunk> {
      if (writesUnderWay > 0) processedDuringAWrite++;
      processed.push(batch.messages.map((m) => m.message));
      await sleep(random() < 0.3 ? 1 : 0);
      const kept = batch.messages.filter((_, i) => !batch.files[i]!.startsWith('excluded')).map((m) => m.message);
      return ndjsonOfTexts(kept.map((m) => JSON.stringify(m)));
    },
  };
  const sink: Sink = {
    available: true,
    async write(chunk) {
      writesUnderWay++;
      const text = chunk.bytes.toString('utf8');
      await sleep(Math.floor(random() * 3));
      written.push(...text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as string));
      writesUnderWay--;
    },
    async close() {},
  };
  const marks: number[] = [];
  const pipeline = new DeliveryPipeline<string, number>(
    { batchMaxEvents: 7, batchMaxWait: 5, maxBufferedBytes: 1 << 20, maxQueuedBatches: 3, retryBackoff: { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 } },
    {
      enrich: stage,
      sink,
      metrics: testMetrics(),
      logger: recordingLogger(),
      onDelivered: (progress) => {
        const mark = progress.get('f')!;
        // Every kept line before this mark was written before the mark came back.
        const before = (lines: readonly string[]) => lines.filter((l) => Number(l.split(' ')[1]) < mark).length;
        if (before(written) !== before(expected)) t.fail(`mark ${mark} came back before its lines were written`);
        marks.push(mark);
      },
    },
  );
  const expected: string[] = [];
  let n = 0;
  for (let round = 0; round < 60; round++) {
    await pipeline.room();
    const kind = random();
    if (kind < 0.15) {
      pipeline.noteProgress('f', n); // a batch of progress marks only
    } else {
      const count = 1 + Math.floor(random() * 12);
      const excluded = kind < 0.35; // a whole run of excluded lines
      for (let i = 0; i < count; i++, n++) {
        const message: DecodedMessage = { timestamp: '2026-11-24T10:00:00Z', stream: 'stdout', message: `line ${n}` };
        pipeline.push(excluded ? 'excluded.log' : 'kept.log', message, 10);
        if (!excluded) expected.push(message.message);
      }
      pipeline.noteProgress('f', n);
    }
    if (random() < 0.3) await sleep(Math.floor(random() * 4));
  }
  t.equal(await pipeline.drain(10_000), true, 'drained');
  t.same(written, expected, 'every kept line written once, in order');
  t.same(processed.flat(), Array.from({ length: n }, (_, i) => `line ${i}`), 'every line processed once, in order');
  t.same(marks, [...marks].sort((a, b) => a - b), 'progress marks come back in order');
  t.equal(marks[marks.length - 1], n, 'up to the last line');
  t.ok(processedDuringAWrite > 0, `the next batch was processed while a write was under way (${processedDuringAWrite} times)`);
  pipeline.close();
});

t.test('a failing sink: the batch is written again until it succeeds, never skipped or doubled', async (t) => {
  const written: string[] = [];
  let failures = 3;
  const stage: BatchEnricher = { name: 'test', processBatch: (b) => Promise.resolve(ndjsonOfTexts(b.messages.map((m) => JSON.stringify(m.message)))) };
  const sink: Sink = {
    available: true,
    async write(chunk) {
      await sleep(1);
      if (failures-- > 0) throw new Error('sink down');
      written.push(...chunk.bytes.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as string));
    },
    async close() {},
  };
  const pipeline = new DeliveryPipeline<string, number>(
    { batchMaxEvents: 5, batchMaxWait: 5, maxBufferedBytes: 1 << 20, maxQueuedBatches: 3, retryBackoff: { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 } },
    { enrich: stage, sink, metrics: testMetrics(), logger: recordingLogger(), onDelivered: () => {} },
  );
  for (let i = 0; i < 23; i++) pipeline.push('a.log', { timestamp: '2026-11-24T10:00:00Z', stream: 'stdout', message: `m${i}` }, 10);
  await waitFor('everything written', () => written.length >= 23);
  t.equal(await pipeline.drain(5000), true);
  t.same(written, Array.from({ length: 23 }, (_, i) => `m${i}`));
  t.equal(pipeline.stats().failedAttempts, 3);
  pipeline.close();
});
