/**
 * isRfc3339: the runtimes' timestamps, checked the way Go's time.Parse(RFC3339Nano) accepts them.
 * It remembers the last valid minute to skip the calendar checks, so every answer must be the
 * same whatever came before: the properties feed it shuffled sequences of near-identical
 * timestamps and compare each answer with a reference that has no memory.
 */
import t from 'tap';
import fc from 'fast-check';
import { isRfc3339 } from '../../src/formats/index.ts';

const SHAPE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** The reference: the shape by regexp, the calendar by Date.UTC. */
function reference(s: string): boolean {
  const m = SHAPE.exec(s);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(2000, month - 1, day));
  date.setUTCFullYear(year);
  const realDay = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  const offsetOk = m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
  return realDay && hour <= 23 && minute <= 59 && second <= 59 && offsetOk;
}

t.test('examples, valid and not', async (t) => {
  const valid = [
    '2026-11-23T10:00:00.123456789Z',
    '2026-11-23T10:00:00Z',
    '2026-11-23T11:00:00.5+01:00',
    '2024-02-29T23:59:59.999999999-12:30',
    '2000-02-29T00:00:00Z',
    '0000-01-01T00:00:00Z',
  ];
  const invalid = [
    '2026-02-29T10:00:00Z', // not a leap year
    '1900-02-29T10:00:00Z',
    '2026-04-31T10:00:00Z',
    '2026-11-23T24:00:00Z',
    '2026-11-23T10:60:00Z',
    '2026-11-23T10:00:60Z',
    '2026-11-23t10:00:00Z',
    '2026-11-23T10:00:00z',
    '2026-11-23T10:00:00.Z',
    '2026-11-23T10:00:00+0100',
    '2026-11-23T10:00:00+24:00',
    '2026-11-23 10:00:00Z',
    '2026-11-23T10:00:00',
    '',
  ];
  for (const s of valid) t.ok(isRfc3339(s, 0, s.length), s);
  for (const s of invalid) t.notOk(isRfc3339(s, 0, s.length), s);
});

t.test('the remembered minute never vouches for another part of the string, nor for another day', async (t) => {
  const line = '2026-11-23T10:00:00.1Z stdout F 2026-11-23T10:00:99Z';
  t.ok(isRfc3339(line, 0, 22), 'the timestamp at the start');
  t.notOk(isRfc3339(line, 32, line.length), 'the same minute later in the line, with second 99');
  t.ok(isRfc3339('2024-02-29T10:00:00Z', 0, 20));
  t.notOk(isRfc3339('2026-02-29T10:00:00Z', 0, 20), 'right after a valid Feb 29 of a leap year');
  t.ok(isRfc3339('x2026-11-23T10:00:00Z', 1, 21), 'a range inside a longer string');
  t.notOk(isRfc3339('2026-11-23T10:00:00Z', 0, 25), 'an end past the string');
});

t.test('property: the same answer as a reference without memory, whatever came before', async (t) => {
  // Few distinct values per field, so consecutive timestamps often share their minute and the
  // remembered one is both hit and missed; invalid values are mixed in on purpose.
  const field = (valid: string[], invalid: string[]) =>
    fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 6 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
  const timestamp = fc
    .tuple(
      field(['2024', '2026', '1900'], ['20x6']),
      field(['02', '11'], ['13', '00']),
      field(['28', '29', '30', '31'], ['00', '32']),
      field(['10', '23'], ['24']),
      field(['00', '59'], ['60']),
      field(['00', '59'], ['60', '5x']),
      field(['', '.1', '.123456789'], ['.']),
      field(['Z', '+01:00', '-12:30'], ['+24:00', 'z', '']),
      field(['T'], ['t']),
    )
    .map(([y, mo, d, h, mi, s, frac, zone, sep]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac}${zone}`);
  let valid = 0;
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(timestamp, { minLength: 1, maxLength: 30 }), fc.nat(8), (stamps, pad) => {
        for (const s of stamps) {
          // Also at an offset inside a longer line, as the decoders call it.
          const line = `${'#'.repeat(pad)}${s} stdout F message`;
          const expected = reference(s);
          if (expected) valid++;
          if (isRfc3339(s, 0, s.length) !== expected || isRfc3339(line, pad, pad + s.length) !== expected) return false;
        }
        return true;
      }),
      { numRuns: 2000 },
    ),
  );
  t.ok(valid > 1000, `${valid} valid timestamps among those checked`);
});
