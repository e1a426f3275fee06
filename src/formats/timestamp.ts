/**
 * RFC 3339 timestamps as container runtimes write them: `2026-11-23T10:00:00.123456789Z`,
 * `2026-11-23T11:00:00.5+01:00`, `2026-11-23T10:00:00Z` (containerd trims trailing zeros of the
 * fraction, so 0 to 9 digits occur; CRI-O always writes 9 and its local offset).
 * Checked by hand over a range of the line, so the hot path allocates nothing.
 */

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two ASCII digits at `i` as a number, or -1. */
function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Whether `YYYY-MM-DDTHH:MM` at `start` is a real calendar date, hour and minute. */
function isDateHourMinute(s: string, start: number): boolean {
  const y1 = twoDigits(s, start);
  const y2 = twoDigits(s, start + 2);
  if (y1 < 0 || y2 < 0) return false;
  const year = y1 * 100 + y2;
  if (s.charCodeAt(start + 4) !== 45 /* - */ || s.charCodeAt(start + 7) !== 45) return false;
  const month = twoDigits(s, start + 5);
  const day = twoDigits(s, start + 8);
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > DAYS_IN_MONTH[month - 1]! || (month === 2 && day === 29 && !isLeapYear(year))) return false;
  if (s.charCodeAt(start + 10) !== 84 /* T */ || s.charCodeAt(start + 13) !== 58 /* : */) return false;
  const hour = twoDigits(s, start + 11);
  const minute = twoDigits(s, start + 14);
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59;
}

/**
 * `YYYY-MM-DDTHH:MM` of the last timestamp that passed. The lines of a batch mostly share their
 * minute: one native comparison then replaces the calendar checks. Starts as a valid minute, so
 * it is never the empty string (which every string starts with).
 */
let lastMinute = '2000-01-01T00:00';
const MINUTE_LENGTH = 16;

/**
 * Whether `s.slice(start, end)` is an RFC 3339 date-time the way Go's `time.Parse(RFC3339Nano)`
 * accepts it (what the kubelet uses): upper-case `T` and `Z`, optional fraction of one or more
 * digits, `Z` or a `±hh:mm` offset, and real calendar ranges (no Feb 30, no second 60).
 */
export function isRfc3339(s: string, start: number, end: number): boolean {
  // Shortest form: YYYY-MM-DDTHH:MM:SSZ (20 chars).
  if (end - start < 20 || end > s.length) return false;
  if (!s.startsWith(lastMinute, start)) {
    if (!isDateHourMinute(s, start)) return false;
    lastMinute = s.slice(start, start + MINUTE_LENGTH);
  }
  const second = twoDigits(s, start + 17);
  if (s.charCodeAt(start + 16) !== 58 /* : */ || second < 0 || second > 59) return false;

  let i = start + 19;
  if (s.charCodeAt(i) === 46 /* . */) {
    i++;
    const digitsStart = i;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      i++;
    }
    if (i === digitsStart) return false;
  }
  if (i === end - 1) return s.charCodeAt(i) === 90 /* Z */;
  if (i !== end - 6) return false;
  const sign = s.charCodeAt(i);
  if (sign !== 43 /* + */ && sign !== 45 /* - */) return false;
  const offHour = twoDigits(s, i + 1);
  const offMinute = twoDigits(s, i + 4);
  return s.charCodeAt(i + 3) === 58 && offHour >= 0 && offHour <= 23 && offMinute >= 0 && offMinute <= 59;
}
