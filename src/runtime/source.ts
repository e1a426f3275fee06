/**
 * `source`: the file source alone, sending raw events to an enrichment service, over keep-alive
 * HTTP (`/v1/enrich`) or one WebSocket (`/v1/ingest` in acknowledged mode), and writing the
 * enriched answers to the sink. As in the agent, the files of excluded pods are parked (never
 * opened) and multi-line records are joined here, before they are sent: the service says which
 * files are excluded and their rules (POST /v1/views, src/client/views.ts), and is told not to
 * join again (`multiline=false`), so that it holds no line between batches.
 */
import { createRemoteStage, createRemoteWebSocketStage, ServiceViews } from '../client/index.ts';
import type { Config } from '../config/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { createSink } from '../sink/index.ts';
import { startFileSource, type FileSource } from '../source/index.ts';
import { toFileSourceOptions } from './options.ts';
import { readTokenFileSetting, StartupError, type RuntimeEnv } from './service.ts';

export interface RemoteSource {
  readonly source: FileSource;
  readonly views: ServiceViews;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

export async function startRemoteSource(config: Config, runtime: RuntimeEnv): Promise<RemoteSource> {
  const s = config.source;
  if (s.service === undefined) throw new StartupError('missing_service', 'source.service: the `source` command needs the service URL (--service http://127.0.0.1:8080)');
  const token = s.serviceToken ?? (s.serviceTokenFile === undefined ? undefined : readTokenFileSetting('source.serviceTokenFile', s.serviceTokenFile));
  const metrics = createMetrics();
  const logger = runtime.logger.child({ component: 'source' });
  const remote = { service: s.service, token, fields: config.enrichment.input, metrics, logger, joined: true };
  const stage = s.transport === 'websocket' ? createRemoteWebSocketStage(remote) : createRemoteStage(remote);
  const views = new ServiceViews({ service: s.service, token, metrics, logger, refreshIntervalMs: s.checkpointInterval });
  const sink = createSink(s.sink, { metrics, stdout: runtime.stdout, logger: logger.child({ component: 'sink' }) });
  const m = config.enrichment.multiline;
  let source: FileSource;
  try {
    source = await startFileSource(toFileSourceOptions(config), {
      enrich: stage,
      sink,
      metrics,
      logger,
      view: (path) => views.view(path),
      prepareViews: (paths) => views.prepare(paths),
      multiline: { maxBytes: m.maxBytes, flushTimeoutMs: m.flushTimeout },
    });
  } catch (e) {
    views.close();
    stage.close();
    await sink.close();
    throw e;
  }
  views.start();
  logger.info({ podsDir: s.podsDir, service: new URL(s.service).origin, transport: s.transport }, 'file source started');
  let stopping: Promise<void> | undefined;
  return {
    source,
    views,
    metrics,
    stop: () =>
      (stopping ??= (async () => {
        await source.stop();
        views.close();
        stage.close();
        await sink.close();
      })()),
  };
}
