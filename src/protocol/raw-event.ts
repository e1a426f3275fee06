/**
 * A raw event as the `source` sends it to the service, already decoded and merged: one JSON
 * object per event, `{"<file>":..., "<timestamp>":..., "<stream>":..., "<message>":...}` under
 * the field names the service reads (its `enrichment.input` setting).
 */
import type { DecodedMessage } from '../enrich/index.ts';

/** Names of the raw-event fields the service expects (its `enrichment.input` setting). */
export interface RawEventFields {
  file: string;
  message: string;
  timestamp: string;
  stream: string;
}

export const DEFAULT_FIELDS: RawEventFields = { file: 'file', message: 'message', timestamp: 'timestamp', stream: 'stream' };

/** Quoted field names are computed once per sender, not per event. */
export interface QuotedFields {
  file: string;
  message: string;
  timestamp: string;
  stream: string;
}

export function quoteFields(f: RawEventFields): QuotedFields {
  return { file: `{${JSON.stringify(f.file)}:`, message: `,${JSON.stringify(f.message)}:`, timestamp: `,${JSON.stringify(f.timestamp)}:`, stream: `,${JSON.stringify(f.stream)}:` };
}

export function serialiseRawEvent(file: string, m: DecodedMessage, q: QuotedFields): string {
  return `${q.file}${JSON.stringify(file)}${q.timestamp}${JSON.stringify(m.timestamp)}${q.stream}"${m.stream}"${q.message}${JSON.stringify(m.message)}}`;
}
