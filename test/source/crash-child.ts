/**
 * Runs the file source with a file sink until SIGTERM (graceful) or SIGKILL (the crash test's
 * point). argv: podsDir dataDir outFile [optionsJson]. Prints "ready" once reading started.
 */
import { createMetrics } from '../../src/metrics/index.ts';
import { createFileSink } from '../../src/sink/index.ts';
import { createSerialisingStage, startFileSource } from '../../src/source/index.ts';
import { sourceOptions } from './fixtures.ts';

const [podsDir, dataDir, out, overrides] = process.argv.slice(2);
if (podsDir === undefined || dataDir === undefined || out === undefined) {
  process.stderr.write('usage: crash-child.ts PODS_DIR DATA_DIR OUT_FILE [OPTIONS_JSON]\n');
  process.exit(2);
}
const log = (level: string) => (obj: object, msg?: string) => {
  if (level !== 'debug') process.stderr.write(`${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
};
const sink = createFileSink(out);
const source = await startFileSource(
  sourceOptions(podsDir, dataDir, { checkpointInterval: 100, rotateWait: 2_000, batchMaxEvents: 200, batchMaxWait: 20, partialFlushTimeout: 60_000, ...(JSON.parse(overrides ?? '{}') as object) }),
  { enrich: createSerialisingStage(), sink, metrics: createMetrics(undefined, { processMetrics: false }), logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } },
);
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void source.stop().then(async () => {
    await sink.close();
    process.exit(0);
  });
});
