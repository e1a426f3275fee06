import t from 'tap';
import fc from 'fast-check';
import { formatDuration, formatSize, parseDuration, parseListenAddress, parseSize } from '../../src/config/index.ts';

t.test('parseDuration accepts units and compounds', async (t) => {
  t.same(parseDuration('500ms'), { ok: true, value: 500 });
  t.same(parseDuration('60s'), { ok: true, value: 60_000 });
  t.same(parseDuration('5m'), { ok: true, value: 300_000 });
  t.same(parseDuration('1h'), { ok: true, value: 3_600_000 });
  t.same(parseDuration('1h30m'), { ok: true, value: 5_400_000 });
  t.same(parseDuration('1.5s'), { ok: true, value: 1500 });
  t.same(parseDuration('0s'), { ok: true, value: 0 });
  t.same(parseDuration(' 2s '), { ok: true, value: 2000 });
});

t.test('parseDuration rejects with exact messages', async (t) => {
  t.same(parseDuration(60), { ok: false, message: 'bad duration: 60 has no unit, write "60s" or "60ms"' });
  t.same(parseDuration('60'), { ok: false, message: 'bad duration: 60 has no unit, write "60s" or "60ms"' });
  t.same(parseDuration('5d'), { ok: false, message: 'bad duration: unknown unit "d", use ms, s, m or h' });
  t.same(parseDuration('5 m'), { ok: false, message: 'bad duration: not a duration' });
  t.same(parseDuration('-5s'), { ok: false, message: 'bad duration: not a duration' });
  t.same(parseDuration('5sec'), { ok: false, message: 'bad duration: unknown unit "sec", use ms, s, m or h' });
  t.same(parseDuration(''), { ok: false, message: 'bad duration: empty' });
  t.same(parseDuration(true), { ok: false, message: 'bad duration: not a string' });
});

t.test('parseSize accepts binary, decimal and Kubernetes units', async (t) => {
  t.same(parseSize('512B'), { ok: true, value: 512 });
  t.same(parseSize('64KiB'), { ok: true, value: 65_536 });
  t.same(parseSize('1MiB'), { ok: true, value: 1_048_576 });
  t.same(parseSize('1GiB'), { ok: true, value: 1_073_741_824 });
  t.same(parseSize('10KB'), { ok: true, value: 10_000 });
  t.same(parseSize('10MB'), { ok: true, value: 10_000_000 });
  t.same(parseSize('1GB'), { ok: true, value: 1_000_000_000 });
  t.same(parseSize('64Ki'), { ok: true, value: 65_536 });
  t.same(parseSize('1.5KiB'), { ok: true, value: 1536 });
  t.same(parseSize('8 MiB'), { ok: true, value: 8_388_608 });
});

t.test('parseSize rejects with exact messages', async (t) => {
  t.same(parseSize(1024), { ok: false, message: 'bad size: 1024 has no unit, write "1024B" or "1024KiB"' });
  t.same(parseSize('8mb'), { ok: false, message: 'bad size: unknown unit "mb", use B, KB, MB, GB, KiB, MiB or GiB' });
  t.same(parseSize('lots'), { ok: false, message: 'bad size: not a size' });
  t.same(parseSize('-1KiB'), { ok: false, message: 'bad size: not a size' });
  t.same(parseSize(null), { ok: false, message: 'bad size: not a string' });
});

t.test('formatDuration and formatSize pick the largest exact unit and round-trip', async (t) => {
  t.equal(formatDuration(60_000), '1m');
  t.equal(formatDuration(90_000), '90s');
  t.equal(formatDuration(500), '500ms');
  t.equal(formatDuration(0), '0ms');
  t.equal(formatSize(8 * 1024 * 1024), '8MiB');
  t.equal(formatSize(10_000_000), '10MB');
  t.equal(formatSize(1000 * 1024), '1000KiB');
  t.equal(formatSize(1023), '1023B');
  fc.assert(fc.property(fc.nat(10 ** 10), (ms) => {
    const parsed = parseDuration(formatDuration(ms));
    return parsed.ok && parsed.value === ms;
  }));
  fc.assert(fc.property(fc.nat(2 ** 40), (bytes) => {
    const parsed = parseSize(formatSize(bytes));
    return parsed.ok && parsed.value === bytes;
  }));
});

t.test('parseListenAddress', async (t) => {
  t.same(parseListenAddress('127.0.0.1:8080'), { ok: true, value: { host: '127.0.0.1', port: 8080 } });
  t.same(parseListenAddress('[::1]:9090'), { ok: true, value: { host: '::1', port: 9090 } });
  t.same(parseListenAddress('localhost:0'), { ok: true, value: { host: 'localhost', port: 0 } });
  t.same(parseListenAddress('0.0.0.0:65535'), { ok: true, value: { host: '0.0.0.0', port: 65535 } });
  t.same(parseListenAddress('8080'), { ok: false, message: 'bad listen address: missing ":port"' });
  t.same(parseListenAddress(':8080'), { ok: false, message: 'bad listen address: missing host, write "0.0.0.0:PORT" to listen on every interface' });
  t.same(parseListenAddress('::1:8080'), { ok: false, message: 'bad listen address: put an IPv6 address in brackets, as in "[::1]:8080"' });
  t.same(parseListenAddress('[::1:8080'), { ok: false, message: 'bad listen address: missing "]" after the IPv6 address' });
  t.same(parseListenAddress('[::1]8080'), { ok: false, message: 'bad listen address: missing ":port"' });
  t.same(parseListenAddress('[zz]:80'), { ok: false, message: 'bad listen address: "zz" is not an IPv6 address' });
  t.same(parseListenAddress('1.2.3.999:80'), { ok: false, message: 'bad listen address: "1.2.3.999" is not an IP address or host name' });
  t.same(parseListenAddress('my_host:80'), { ok: false, message: 'bad listen address: "my_host" is not an IP address or host name' });
  t.same(parseListenAddress('127.0.0.1:http'), { ok: false, message: 'bad listen address: port "http" is not a number' });
  t.same(parseListenAddress('127.0.0.1:70000'), { ok: false, message: 'bad listen address: port 70000 is out of range 0-65535' });
});
