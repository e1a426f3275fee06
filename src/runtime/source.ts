/**
 * `source`: the file source alone, sending raw events to an enrichment service, over keep-alive
 * HTTP (`/v1/enrich`) or one WebSocket (`/v1/ingest` in acknowledged mode), and writing the
 * enriched answers to the sink.
 */
import { createRemoteStage, createRemoteWebSocketStage } from '../client/index.ts';
import type { Config } from '../config/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { createSink } from '../sink/index.ts';
import { startFileSource, type FileSource } from '../source/index.ts';
import { toFileSourceOptions } from './options.ts';
import { readTokenFileSetting, StartupError, type RuntimeEnv } from './service.ts';

export interface RemoteSource {
  readonly source: FileSource;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

export async function startRemoteSource(config: Config, runtime: RuntimeEnv): Promise<RemoteSource> {
  const s = config.source;
  if (s.service === undefined) throw new StartupError('missing_service', 'source.service: the `source` command needs the service URL (--service http://127.0.0.1:8080)');
  const token = s.serviceToken ?? (s.serviceTokenFile === undefined ? undefined : readTokenFileSetting('source.serviceTokenFile', s.serviceTokenFile));
  const metrics = createMetrics();
  const logger = runtime.logger.child({ component: 'source' });
  const remote = { service: s.service, token, fields: config.enrichment.input, metrics, logger };
  const stage = s.transport === 'websocket' ? createRemoteWebSocketStage(remote) : createRemoteStage(remote);
  const sink = createSink(s.sink, { metrics, stdout: runtime.stdout, logger: logger.child({ component: 'sink' }) });
  let source: FileSource;
  try {
    source = await startFileSource(toFileSourceOptions(config), { enrich: stage, sink, metrics, logger });
  } catch (e) {
    stage.close();
    await sink.close();
    throw e;
  }
  logger.info({ podsDir: s.podsDir, service: new URL(s.service).origin, transport: s.transport }, 'file source started');
  let stopping: Promise<void> | undefined;
  return {
    source,
    metrics,
    stop: () =>
      (stopping ??= (async () => {
        await source.stop();
        stage.close();
        await sink.close();
      })()),
  };
}
