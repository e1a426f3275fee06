/**
 * RFC 3339 timestamps as runtimes write them (nanoseconds, `Z` or an offset), turned into what
 * each schema wants without losing precision: the UTC form (Vector) and the nanosecond epoch as a
 * decimal string (OpenTelemetry's time_unix_nano). Date only has milliseconds, so the fraction is
 * carried as digits and only the whole seconds go through Date.parse.
 */

const NINE_ZEROS = '000000000';
const CHAR_Z = 90; // 'Z'

/**
 * Converts timestamps already validated as RFC 3339 (src/formats isRfc3339). Lines of one batch mostly share their second, so the
 * epoch seconds of the last one are remembered and the parse is skipped.
 */
export class TimestampConverter {
  #lastWhole = '';
  #lastZone = '';
  #lastSeconds = 0;

  /** The same instant in UTC (`...Z`), fraction digits kept as written. */
  utc(ts: string): string {
    if (ts.charCodeAt(ts.length - 1) === CHAR_Z) return ts;
    const zone = zoneOf(ts);
    const fraction = ts.slice(19, ts.length - zone.length);
    const whole = new Date(this.#seconds(ts, zone) * 1000).toISOString().slice(0, 19);
    return whole + fraction + 'Z';
  }

  /** Nanoseconds since the epoch, as a decimal string (exact, unlike a float). */
  unixNanos(ts: string): string {
    const zone = zoneOf(ts);
    const end = ts.length - zone.length;
    const digits = end > 20 ? ts.slice(20, end) : '';
    const nanos = digits.length === 9 ? digits : (digits + NINE_ZEROS).slice(0, 9);
    const seconds = this.#seconds(ts, zone);
    if (seconds > 0) return String(seconds) + nanos;
    return (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString();
  }

  #seconds(ts: string, zone: string): number {
    const whole = ts.slice(0, 19);
    if (whole === this.#lastWhole && zone === this.#lastZone) return this.#lastSeconds;
    const ms = Date.parse(whole.toUpperCase() + zone.toUpperCase());
    this.#lastWhole = whole;
    this.#lastZone = zone;
    this.#lastSeconds = Math.floor(ms / 1000);
    return this.#lastSeconds;
  }
}

function zoneOf(ts: string): string {
  const last = ts.charCodeAt(ts.length - 1);
  return last === CHAR_Z || last === 122 ? ts.slice(-1) : ts.slice(-6);
}

/** Epoch milliseconds as nanoseconds, as a decimal string. */
export function msToUnixNanos(ms: number): string {
  const whole = Math.floor(ms);
  return whole === 0 ? '0' : String(whole) + '000000';
}

/** Epoch milliseconds as RFC 3339 UTC. */
export function msToRfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
