/** The media types of a batch of events, in and out. */
export const JSON_TYPE = 'application/json';
export const NDJSON_TYPE = 'application/x-ndjson';
/** The names NDJSON goes by (JSON Lines is the same format); answers always use NDJSON_TYPE. */
export const NDJSON_TYPES: readonly string[] = [NDJSON_TYPE, 'application/ndjson', 'application/jsonl', 'application/json-lines', 'application/x-jsonlines'];
