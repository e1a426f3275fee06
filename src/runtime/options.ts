/**
 * The one place where the validated configuration is mapped onto each component's own options
 * (pure functions: every component keeps a narrow, plain options interface of its own).
 */
import type { Config } from '../config/index.ts';
import type { EnricherOptions } from '../enrich/index.ts';
import type { Backoff, KubeletConnection } from '../kube/index.ts';
import type { ServerOptions } from '../server/index.ts';
import type { FileSourceOptions } from '../source/index.ts';

export function toEnricherOptions(c: Config): EnricherOptions {
  const e = c.enrichment;
  return {
    schema: e.schema,
    include: { ...e.include },
    rename: { ...e.rename },
    fields: e.fields.map((rule) => ({ ...rule })),
    dedot: e.dedot,
    clusterName: e.clusterName,
    parseJson: { ...e.parseJson },
    exclude: { ...e.exclude },
    input: { ...e.input },
    maxMergedLineBytes: e.maxMergedLineBytes,
    partialFlushTimeoutMs: e.partialFlushTimeout,
    multiline: { annotation: e.multiline.annotation, maxBytes: e.multiline.maxBytes, flushTimeoutMs: e.multiline.flushTimeout },
  };
}

export function toServerOptions(c: Config, authToken: string | undefined): ServerOptions {
  return {
    authToken,
    maxBodyBytes: c.server.maxBodyBytes,
    maxInflightBytes: c.server.maxInflightBytes,
    maxInflightWaitMs: c.server.maxInflightWait,
    streamBufferEvents: c.server.streamBufferEvents,
    maxStreamSubscribers: c.server.maxStreamSubscribers,
    streamTimeShare: c.server.streamTimeShare,
    // Enough for a few answers to 1,000-line batches; past it, reading from that client pauses.
    ingestMaxPendingBytes: Math.max(1024 * 1024, c.server.maxBodyBytes),
    partialFlushTimeoutMs: c.enrichment.partialFlushTimeout,
    headersTimeoutMs: c.server.headersTimeout,
    requestTimeoutMs: c.server.requestTimeout,
    keepAliveTimeoutMs: c.server.keepAliveTimeout,
    sendTimeoutMs: c.server.sendTimeout,
    websocketPingIntervalMs: c.server.websocketPingInterval,
  };
}

export function toBackoff(c: Config): Backoff {
  const b = c.kubernetes.backoff;
  return { initialMs: b.initial, maxMs: b.max, factor: b.factor, jitter: b.jitter };
}

export function toFileSourceOptions(c: Config): FileSourceOptions {
  const s = c.source;
  return {
    podsDir: s.podsDir,
    include: s.include,
    exclude: s.exclude,
    readFrom: s.readFrom,
    dataDir: s.dataDir,
    maxLineBytes: s.maxLineBytes,
    maxLineAction: s.maxLineAction,
    maxMergedLineBytes: s.maxMergedLineBytes,
    partialFlushTimeout: s.partialFlushTimeout,
    rotateWait: s.rotateWait,
    rescanInterval: s.rescanInterval,
    checkpointInterval: s.checkpointInterval,
    batchMaxEvents: s.batchMaxEvents,
    batchMaxWait: s.batchMaxWait,
    maxBufferedBytes: s.maxBufferedBytes,
    selfPodUid: s.selfPodUid,
    selfPodName: s.selfPodName,
  };
}

/** The kubelet's port for its authenticated API (/pods needs nodes/proxy get). */
const KUBELET_PORT = 10250;

/** The variable holding the node's IP (downward API status.hostIP): the kubelet's default host. */
export const NODE_IP_ENV = 'NODE_IP';

/**
 * How to reach the kubelet (kubernetes.kubelet): its url, else https://$NODE_IP:10250; undefined
 * when neither is set.
 */
export function toKubeletConnection(c: Config, env: Readonly<Record<string, string | undefined>>): KubeletConnection | undefined {
  const k = c.kubernetes.kubelet;
  const nodeIp = env[NODE_IP_ENV]?.trim();
  const url = k.url ?? (nodeIp ? `https://${nodeIp.includes(':') ? `[${nodeIp}]` : nodeIp}:${KUBELET_PORT}` : undefined);
  if (url === undefined) return undefined;
  return { url, tokenFile: k.tokenFile, caFile: k.caFile, insecureSkipTlsVerify: k.insecureSkipTlsVerify };
}
