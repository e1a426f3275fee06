/**
 * Every Prometheus metric the product exposes, defined in one place (documented in docs/metrics.md) and
 * created per registry, so tests and embedded uses never share global state.
 * Labels are low-cardinality by construction: never a pod, file or namespace name.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'kube_log_enricher_';

export interface MetricsOptions {
  /** Default Node.js process metrics; off in most tests to keep scrapes small. */
  processMetrics?: boolean;
  /** Monotonic clock, ms, of the reflector age gauges (default performance.now); injectable for tests. */
  now?: () => number;
}

/**
 * When each reflector last heard from the API server. The reflectors note moments; the age gauges
 * turn them into seconds at scrape time, so nothing ticks in between.
 */
export class ReflectorActivity {
  readonly now: () => number;
  readonly #lastEvent = new Map<string, number>();
  readonly #lastContact = new Map<string, number>();

  constructor(now: () => number) {
    this.now = now;
  }

  /** Kind → when its store was last brought up to date (list completed, watch event or bookmark). */
  get lastEvent(): ReadonlyMap<string, number> {
    return this.#lastEvent;
  }

  /** Kind → when the API server last answered it successfully. */
  get lastContact(): ReadonlyMap<string, number> {
    return this.#lastContact;
  }

  /** A reflector starts: both ages count from now until its first answer. */
  started(kind: string): void {
    const at = this.now();
    if (!this.#lastEvent.has(kind)) this.#lastEvent.set(kind, at);
    if (!this.#lastContact.has(kind)) this.#lastContact.set(kind, at);
  }

  /** The API server answered: a list page, a watch accepted, a line on a watch. */
  contact(kind: string): void {
    this.#lastContact.set(kind, this.now());
  }

  /** The store is current as of now: a list completed, or a watch event or bookmark arrived. */
  event(kind: string): void {
    const at = this.now();
    this.#lastEvent.set(kind, at);
    this.#lastContact.set(kind, at);
  }

  /** Seconds since `kind`'s moment in `since` (lastEvent or lastContact); undefined before its reflector started. */
  ageSeconds(since: ReadonlyMap<string, number>, kind: string, now = this.now()): number | undefined {
    const at = since.get(kind);
    return at === undefined ? undefined : Math.max(0, now - at) / 1000;
  }
}

/** A gauge whose values are the ages, in seconds, of the moments in `since`, computed when scraped. */
function ageGauge(name: string, help: string, registers: Registry[], activity: ReflectorActivity, since: ReadonlyMap<string, number>) {
  return new Gauge({
    name,
    help,
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const now = activity.now();
      for (const kind of since.keys()) this.set({ kind }, activity.ageSeconds(since, kind, now)!);
    },
  });
}

export function createMetrics(registry: Registry = new Registry(), options: MetricsOptions = {}) {
  // The event-loop lag histogram samples with a timer: prom-client's default (10 ms) wakes the
  // process 100 times a second, most of an idle agent's CPU. 100 ms still catches every stall
  // worth a page.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const registers = [registry];
  const reflectorActivity = new ReflectorActivity(options.now ?? (() => performance.now()));
  return {
    registry,

    // Enrichment
    eventsIn: new Counter({ name: `${PREFIX}events_in_total`, help: 'Raw events received, by entry point.', labelNames: ['route'] as const, registers }),
    eventsOut: new Counter({ name: `${PREFIX}events_out_total`, help: 'Enriched events emitted, by entry point.', labelNames: ['route'] as const, registers }),
    eventsMerged: new Counter({ name: `${PREFIX}events_merged_total`, help: 'Partial-line fragments merged into a following event.', registers }),
    multilineEvents: new Counter({ name: `${PREFIX}multiline_events_total`, help: 'Events joined from two lines or more of a multi-line message (a stack trace; the multiline annotation).', registers }),
    multilineLinesJoined: new Counter({ name: `${PREFIX}multiline_lines_joined_total`, help: 'Lines folded into the line before them by the multiline annotation.', registers }),
    multilineSplits: new Counter({ name: `${PREFIX}multiline_splits_total`, help: 'Multi-line records emitted in parts because they reached enrichment.multiline.maxBytes.', registers }),
    multilineInvalidAnnotations: new Counter({ name: `${PREFIX}multiline_invalid_annotations_total`, help: 'Times pod metadata carried a multiline annotation that could not be used (ignored; the first time each value is logged).', registers }),
    eventsUnmatched: new Counter({ name: `${PREFIX}events_unmatched_total`, help: 'Events returned without pod metadata, by reason.', labelNames: ['reason'] as const, registers }),
    eventsPendingMetadata: new Counter({
      name: `${PREFIX}events_pending_metadata_total`,
      help: 'Events enriched while a kind of their metadata was not known yet (its reflector had not completed its initial list), by that kind; an event missing two kinds counts under each.',
      labelNames: ['kind'] as const,
      registers,
    }),
    eventsExcluded: new Counter({ name: `${PREFIX}events_excluded_total`, help: 'Events skipped because their pod or container is excluded.', registers }),
    jsonMessages: new Counter({
      name: `${PREFIX}json_messages_total`,
      help: 'Messages of containers whose messages are parsed as JSON (enrichment.parseJson), by result: parsed, invalid (not JSON), not_an_object (left as they are).',
      labelNames: ['result'] as const,
      registers,
    }),
    eventErrors: new Counter({ name: `${PREFIX}event_errors_total`, help: 'Events reported back as invalid, by reason.', labelNames: ['reason'] as const, registers }),
    enrichDuration: new Histogram({ name: `${PREFIX}enrich_duration_seconds`, help: 'Time to enrich one batch.', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers }),

    // Store and reflectors
    storeObjects: new Gauge({ name: `${PREFIX}store_objects`, help: 'Objects in the store, by kind and state (live, retained).', labelNames: ['kind', 'state'] as const, registers }),
    storeEvictions: new Counter({ name: `${PREFIX}store_evictions_total`, help: 'Deleted objects evicted after the deletion delay.', labelNames: ['kind'] as const, registers }),
    storeRetentionExtensions: new Counter({
      name: `${PREFIX}store_retention_extensions_total`,
      help: 'Times a deleted pod was kept past its deletion delay because it was still needed, by reason: unread_files (agent), recent_lookups (serve, and the enricher of every mode).',
      labelNames: ['reason'] as const,
      registers,
    }),
    reflectorSynced: new Gauge({ name: `${PREFIX}reflector_synced`, help: '1 once the reflector completed its initial list.', labelNames: ['kind'] as const, registers }),
    watchRestarts: new Counter({ name: `${PREFIX}watch_restarts_total`, help: 'Watch restarts, by kind and reason.', labelNames: ['kind', 'reason'] as const, registers }),
    relists: new Counter({ name: `${PREFIX}relists_total`, help: 'Full relists, by kind and reason.', labelNames: ['kind', 'reason'] as const, registers }),
    apiErrors: new Counter({ name: `${PREFIX}api_errors_total`, help: 'Errors from the Kubernetes API, by kind and code.', labelNames: ['kind', 'code'] as const, registers }),
    reflectorActivity,
    reflectorLastEventAge: ageGauge(
      `${PREFIX}reflector_last_event_age_seconds`,
      'Seconds since the reflector last brought its kind up to date (a completed list, a watch event or bookmark); counted from its start until the first. How stale the store may be.',
      registers,
      reflectorActivity,
      reflectorActivity.lastEvent,
    ),
    reflectorLastContactAge: ageGauge(
      `${PREFIX}reflector_last_contact_age_seconds`,
      'Seconds since the API server last answered the reflector (a list page, a watch accepted, a line on a watch); counted from its start until the first.',
      registers,
      reflectorActivity,
      reflectorActivity.lastContact,
    ),

    // Kubelet pod source (kubernetes.podSource: kubelet)
    kubeletPolls: new Counter({ name: `${PREFIX}kubelet_polls_total`, help: 'Polls of the kubelet\'s /pods, by result: ok, or the error code (as in api_errors_total).', labelNames: ['result'] as const, registers }),
    kubeletPollDuration: new Histogram({
      name: `${PREFIX}kubelet_poll_duration_seconds`,
      help: 'Time of one successful poll of the kubelet\'s /pods: the request, decoding the answer and folding it into the store.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    kubeletResponseBytes: new Counter({ name: `${PREFIX}kubelet_response_bytes_total`, help: 'Bytes of /pods answers received from the kubelet.', registers }),
    kubeletPodChanges: new Counter({
      name: `${PREFIX}kubelet_pod_changes_total`,
      help: 'Pods of kubelet /pods answers, by what they changed in the store: added, updated, deleted (gone from the answer), unchanged (same text as in the previous answer: not even parsed).',
      labelNames: ['change'] as const,
      registers,
    }),

    // File source
    filesTailed: new Gauge({ name: `${PREFIX}files_tailed`, help: 'Log files currently tailed.', registers }),
    filesParked: new Gauge({ name: `${PREFIX}files_parked`, help: 'Log files of excluded pods never opened, their size looked at so that reading can begin there if the pod is included again (agent, source).', registers }),
    directoriesBusy: new Gauge({ name: `${PREFIX}directories_busy`, help: 'Container log directories read every round with their watch closed (busy).', registers }),
    bytesRead: new Counter({ name: `${PREFIX}bytes_read_total`, help: 'Bytes read from log files.', registers }),
    bytesPassedOver: new Counter({ name: `${PREFIX}bytes_passed_over_total`, help: 'Bytes of log files passed over without reading them: files followed when their pod became excluded (agent, source).', registers }),
    linesRead: new Counter({ name: `${PREFIX}lines_read_total`, help: 'Lines read from log files.', registers }),
    checkpointWrites: new Counter({ name: `${PREFIX}checkpoint_writes_total`, help: 'Checkpoint snapshots written (journal appends not counted).', registers }),
    linesDropped: new Counter({ name: `${PREFIX}lines_dropped_total`, help: 'Lines dropped, by reason.', labelNames: ['reason'] as const, registers }),
    linesTruncated: new Counter({ name: `${PREFIX}lines_truncated_total`, help: 'Lines truncated, by reason.', labelNames: ['reason'] as const, registers }),
    rotations: new Counter({ name: `${PREFIX}file_rotations_total`, help: 'File rotations followed, by kind (rename, truncate).', labelNames: ['kind'] as const, registers }),
    sourceViewFailures: new Counter({
      name: `${PREFIX}source_view_failures_total`,
      help: "Failed requests of `source` to the service's POST /v1/views (unreachable, an error status): until one succeeds, files it has not answered for are followed as if included, their lines not joined.",
      registers,
    }),
        sinkErrors: new Counter({ name: `${PREFIX}sink_errors_total`, help: 'Failed deliveries to the sink or service (retried).', labelNames: ['sink'] as const, registers }),
    sinkRejectedRecords: new Counter({ name: `${PREFIX}sink_rejected_records_total`, help: 'Log records an OTLP receiver rejected in partial_success: dropped, not retried (OTLP says so).', labelNames: ['sink'] as const, registers }),

    // HTTP and WebSocket
    inflightBytes: new Gauge({ name: `${PREFIX}inflight_bytes`, help: 'Request bytes being enriched and answered (server.maxInflightBytes), HTTP and /v1/ingest.', registers }),
    inflightWaiting: new Gauge({ name: `${PREFIX}inflight_waiting`, help: 'Requests and /v1/ingest messages waiting for room in server.maxInflightBytes.', registers }),
    wsClients: new Gauge({ name: `${PREFIX}websocket_clients`, help: 'Open WebSocket connections, by route.', labelNames: ['route'] as const, registers }),
    wsDropped: new Counter({ name: `${PREFIX}websocket_dropped_messages_total`, help: 'Events not sent to a /v1/stream subscriber: it did not keep up, or the fan-out did not (its share of time used up).', labelNames: ['route'] as const, registers }),
    httpDuration: new Histogram({ name: `${PREFIX}http_request_duration_seconds`, help: 'HTTP request duration, by route, method and status.', labelNames: ['route', 'method', 'status_code'] as const, buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
