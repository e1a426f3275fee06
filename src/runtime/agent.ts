/**
 * `agent` (the DaemonSet default): the service and the file source in one process; the source
 * feeds the enricher directly (no HTTP hop) and publishes to /v1/stream.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/index.ts';
import { parseSinkSpec } from '../sink/index.ts';
import { createInProcessStage, startFileSource, type FileSource } from '../source/index.ts';
import { toFileSourceOptions } from './options.ts';
import { startService, type RuntimeEnv, type Service } from './service.ts';

const SYNC_WAIT_MS = 30_000;

async function waitAtMost(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Agent {
  readonly service: Service;
  readonly source: FileSource;
  /** Stops reading, delivers what is in flight, writes checkpoints, then stops the service. */
  stop(): Promise<void>;
}

export async function startAgent(config: Config, runtime: RuntimeEnv, extras: { kubeConfig?: KubeConfig } = {}): Promise<Agent> {
  const service = await startService(config, runtime, extras);
  const sink = service.sink;
  if (sink === undefined) {
    // Only a test can start a service without a sink (ServiceExtras.sink null).
    await service.stop();
    throw new Error('the agent needs the service to have a sink');
  }
  const stage = createInProcessStage(service.enricher, { publish: (records) => service.bus.publish(records) });
  let source: FileSource;
  try {
    // Lines read before the store has synced would come out unmatched: wait for the first list,
    // but not forever (an API server that is down must not stop logs from flowing, nor shutdown).
    const synced = await waitAtMost(service.reflectors.ready(), SYNC_WAIT_MS);
    if (!synced) runtime.logger.warn({ waitedMs: SYNC_WAIT_MS }, 'store not synced yet; reading logs anyway (early lines may be unmatched)');
    const enricher = service.enricher;
    const m = config.enrichment.multiline;
    source = await startFileSource(toFileSourceOptions(config), {
      enrich: stage,
      sink,
      metrics: service.metrics,
      logger: runtime.logger.child({ component: 'source' }),
      // The enricher knows each file's pod, asked once per read: the source passes over excluded
      // pods' files, and joins multi-line messages before they are enriched, so that a line held
      // in a record is never checkpointed before the record is out.
      view: (path) => enricher.fileView(path),
      multiline: { maxBytes: m.maxBytes, flushTimeoutMs: m.flushTimeout },
    });
  } catch (e) {
    stage.close();
    await service.stop();
    throw e;
  }
  // A deleted pod stays in the store while its files still have lines to read (kubernetes.maxRetention caps it).
  const removeHint = service.store.addRetentionHint(source.retentionHint);
  runtime.logger.info({ podsDir: config.source.podsDir, sink: sinkKind(config.source.sink) }, 'file source started');
  let stopping: Promise<void> | undefined;
  return {
    service,
    source,
    stop: () =>
      (stopping ??= (async () => {
        await source.stop();
        removeHint();
        stage.close();
        await service.stop();
      })()),
  };
}

/** What the log says of the sink: its kind, or the file; never a URL (credentials hide there). */
function sinkKind(setting: string): string {
  const parsed = parseSinkSpec(setting);
  if (!parsed.ok) return 'invalid';
  if (parsed.spec.kind === 'file') return setting;
  return parsed.spec.kind === 'otlp' ? `otlp_${parsed.spec.transport}` : parsed.spec.kind;
}
