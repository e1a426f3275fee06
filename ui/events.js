// What the list shows of an enriched event, whatever the service's output schema
// (vector, fluentbit, otel: docs/schemas.md). Pure functions, no DOM.

/** One line of the list: an event, or a gap where events were dropped. */
export class Row {
  constructor(seq, kind) {
    this.seq = seq;
    /** 'event' | 'gap' | 'note' */
    this.kind = kind;
    this.time = '';
    this.namespace = '';
    this.pod = '';
    this.container = '';
    this.stderr = false;
    this.message = '';
    /** The event's JSON text as received, for the detail view. */
    this.raw = '';
  }
}

function text(value) {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** "2026-12-05T07:51:19.123456Z" or nanoseconds since the epoch -> "07:51:19.123". */
function clock(value) {
  if (typeof value === 'string') {
    const m = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(value);
    if (m !== null) return m[1];
  }
  const ns = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : typeof value === 'number' ? value : NaN;
  if (Number.isFinite(ns)) return new Date(ns / 1e6).toISOString().slice(11, 23);
  return '';
}

/** Fills `row` from a parsed event; returns it. */
export function fillFromEvent(row, event, raw) {
  row.raw = raw;
  const k = event.kubernetes;
  const resource = event.resource;
  if (resource !== undefined && typeof resource === 'object' && resource !== null) {
    // otel
    const attributes = event.attributes ?? {};
    row.namespace = text(resource['k8s.namespace.name']);
    row.pod = text(resource['k8s.pod.name']);
    row.container = text(resource['k8s.container.name']);
    row.stderr = attributes['log.iostream'] === 'stderr';
    row.message = text(event.body);
    row.time = clock(event.time_unix_nano ?? event.observed_time_unix_nano);
  } else {
    // vector (pod_namespace) or fluentbit (namespace_name, log, time)
    row.namespace = text(k?.pod_namespace ?? k?.namespace_name);
    row.pod = text(k?.pod_name);
    row.container = text(k?.container_name);
    row.stderr = event.stream === 'stderr';
    row.message = text(event.message ?? event.log);
    row.time = clock(event.timestamp ?? event.time);
  }
  return row;
}

/**
 * A search as the user typed it: plain text (case-insensitive), or a regular expression when the
 * box is ticked or the text is written /like this/flags. Returns { regex } or { error }.
 */
export function compileSearch(query, asRegex) {
  if (query === '') return { regex: undefined };
  const slashed = /^\/(.+)\/([a-z]*)$/.exec(query);
  try {
    if (slashed !== null) return { regex: new RegExp(slashed[1], withGlobal(slashed[2])) };
    if (asRegex) return { regex: new RegExp(query, 'gi') };
    return { regex: new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi') };
  } catch (e) {
    return { error: `search: ${e.message}` };
  }
}

function withGlobal(flags) {
  return flags.includes('g') ? flags : flags + 'g';
}

/** Does the row match the search (message, pod, container, namespace)? Gaps and notes always do. */
export function rowMatches(row, regex) {
  if (regex === undefined || row.kind !== 'event') return true;
  return test(regex, row.message) || test(regex, row.pod) || test(regex, row.namespace) || test(regex, row.container);
}

function test(regex, value) {
  regex.lastIndex = 0;
  return regex.test(value);
}

/** [start, end) ranges of the matches in `value`, at most `limit` of them. */
export function matchRanges(regex, value, limit = 20) {
  const ranges = [];
  if (regex === undefined) return ranges;
  regex.lastIndex = 0;
  let m;
  while (ranges.length < limit && (m = regex.exec(value)) !== null) {
    if (m[0].length === 0) {
      regex.lastIndex++;
      continue;
    }
    ranges.push([m.index, m.index + m[0].length]);
  }
  return ranges;
}
