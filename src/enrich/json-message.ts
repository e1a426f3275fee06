/**
 * Messages that are JSON objects, parsed into fields (`enrichment.parseJson`, and per pod the
 * `logs.kube-log-enricher.io/parser` annotation; docs/schemas.md "JSON messages"), as Fluent
 * Bit's Merge_Log does:
 *
 * - `vector`, `fluentbit`: the object's members go into the event's root (`target` empty) or under
 *   `target`; a member named like an enrichment field (or a pass-through field) is left out,
 *   never overwriting it. The message field is kept or dropped (`keepMessage`).
 * - `otel`: the body becomes the object (a map), as OpenTelemetry's JSON parsers make it.
 *
 * A message that is not a JSON object is left as it is and counted. Only the files of pods this
 * applies to pay for it: one JSON.parse of the message and one JSON.stringify of the object.
 */
import { EnrichConfigError } from './layout.ts';
import type { SchemaName } from './options.ts';

export interface ParseJsonOptions {
  /** Every container's messages; otherwise only those of pods annotated with `annotation`. */
  enabled: boolean;
  /** Where the members go: '' the event's root, else this top-level key. */
  target: string;
  /** The message field stays beside the parsed members. */
  keepMessage: boolean;
  /** Pod annotation whose value lists `json` (every container) or `json/<container>`. */
  annotation: string;
}

/** kube_log_enricher_json_messages_total by `result`, looked up once. */
export interface JsonCounters {
  parsed: { inc(): void };
  invalid: { inc(): void };
  notAnObject: { inc(): void };
}

const NO_COUNTER = { inc: (): void => undefined };
const NO_COUNTERS: JsonCounters = { parsed: NO_COUNTER, invalid: NO_COUNTER, notAnObject: NO_COUNTER };

export interface ParsedMessage {
  /** The message field's value as JSON: the original string, or (otel) the object. */
  messageJson: string;
  /** Members to append to the root, each `,"key":value`. */
  extra: string;
  /** The message field is left out of the record. */
  omitMessage: boolean;
}

/** Whether an annotation value (comma-separated) asks for JSON parsing of `container`. */
export function annotationAsksJson(value: string | undefined, container: string | undefined): boolean {
  if (value === undefined) return false;
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === 'json' || (container !== undefined && item === `json/${container}`)) return true;
  }
  return false;
}

const LEFT_BRACE = 0x7b;

function firstNonSpace(text: string): number {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return c;
    i++;
  }
  return -1;
}

export class JsonMessageParser {
  readonly #intoBody: boolean;
  readonly #targetJson: string | undefined;
  readonly #keepMessage: boolean;
  readonly #reserved: ReadonlySet<string>;
  readonly #counters: JsonCounters;

  constructor(schema: SchemaName, options: ParseJsonOptions, topLevelKeys: ReadonlySet<string>, counters: JsonCounters = NO_COUNTERS) {
    this.#counters = counters;
    this.#intoBody = schema === 'otel';
    this.#keepMessage = options.keepMessage;
    this.#reserved = topLevelKeys;
    if (options.target !== '' && !this.#intoBody && topLevelKeys.has(options.target)) {
      throw new EnrichConfigError('invalid_parse_json', `parseJson.target "${options.target}" is a field of the ${schema} schema; parsed members may not replace it: choose another name`);
    }
    this.#targetJson = options.target === '' ? undefined : JSON.stringify(options.target);
  }

  /**
   * The record's parts for a message (`messageJson`: the message as a JSON string literal;
   * `message`: the message itself when the caller has it), with `passThrough` the event's own
   * extra members; undefined when it is not a JSON object.
   */
  parse(messageJson: string, passThrough: string, message: string | undefined): ParsedMessage | undefined {
    const text = message ?? (JSON.parse(messageJson) as string);
    if (firstNonSpace(text) !== LEFT_BRACE) {
      this.#counters.notAnObject.inc();
      return undefined;
    }
    let parsed: ParsedMessage;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        this.#counters.notAnObject.inc();
        return undefined;
      }
      parsed = this.#parts(messageJson, value as Record<string, unknown>, passThrough);
    } catch {
      // Not JSON, or nested too deeply to be written back (JSON.stringify's RangeError).
      this.#counters.invalid.inc();
      return undefined;
    }
    this.#counters.parsed.inc();
    return parsed;
  }

  #parts(messageJson: string, object: Record<string, unknown>, passThrough: string): ParsedMessage {
    if (this.#intoBody) return { messageJson: JSON.stringify(object), extra: '', omitMessage: false };
    if (this.#targetJson !== undefined) return { messageJson, extra: `,${this.#targetJson}:${JSON.stringify(object)}`, omitMessage: !this.#keepMessage };
    const taken = passThrough === '' ? undefined : new Set(Object.keys(JSON.parse(`{${passThrough.slice(1)}}`) as object));
    const keys = Object.keys(object);
    let clash = false;
    for (const key of keys) {
      if (this.#reserved.has(key) || taken?.has(key) === true) {
        clash = true;
        break;
      }
    }
    let extra = '';
    if (!clash) {
      // The usual case: every member goes in, written by one JSON.stringify of the object.
      if (keys.length > 0) extra = `,${JSON.stringify(object).slice(1, -1)}`;
    } else {
      for (const key of keys) {
        if (this.#reserved.has(key) || taken?.has(key) === true) continue;
        extra += `,${JSON.stringify(key)}:${JSON.stringify(object[key])}`;
      }
    }
    return { messageJson, extra, omitMessage: !this.#keepMessage };
  }
}
