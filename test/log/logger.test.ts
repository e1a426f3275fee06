import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/index.ts';

/** A destination collecting every line the logger writes. */
function collector(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = () => chunks.join('');
  return { stream, text, lines: () => text().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

t.test('secrets never reach the log', async (t) => {
  const out = collector();
  const log = createLogger({ level: 'info', destination: out.stream });
  log.info({
    token: 'tok-top',
    req: { method: 'GET', headers: { authorization: 'Bearer tok-header', 'user-agent': 'vector' } },
    config: { server: { authToken: 'tok-config', listen: '127.0.0.1:8080' }, source: { serviceToken: 'tok-service' }, kubernetes: { kubeconfig: '/etc/kube/config' } },
    cluster: { kubeconfig: 'apiVersion: v1\nusers:\n- user: {token: tok-kubeconfig}\n' },
    user: { 'client-key-data': 'tok-key', password: 'tok-password' },
  }, 'request');
  log.child({ component: 'sink' }).warn({ headers: { Authorization: 'Bearer tok-child' } }, 'retrying');
  const text = out.text();
  t.notMatch(text, /tok-/, 'no secret value in the output');
  const [first, second] = out.lines();
  t.equal(first?.token, '<redacted>');
  t.same((first?.req as { headers: unknown }).headers, { authorization: '<redacted>', 'user-agent': 'vector' });
  t.same((first?.config as { server: unknown }).server, { authToken: '<redacted>', listen: '127.0.0.1:8080' });
  t.equal((first?.config as { kubernetes: { kubeconfig: string } }).kubernetes.kubeconfig, '/etc/kube/config', 'a kubeconfig path stays readable');
  t.equal((first?.cluster as { kubeconfig: string }).kubeconfig, '<redacted>', 'kubeconfig contents do not');
  t.equal(second?.component, 'sink');
  t.equal(second?.msg, 'retrying');
});

t.test('level, name and bindings', async (t) => {
  const out = collector();
  const log = createLogger({ level: 'warn', destination: out.stream, bindings: { component: 'reflector' } });
  log.info('hidden');
  log.warn({ resource: 'pods' }, 'watch restarted');
  const lines = out.lines();
  t.equal(lines.length, 1, 'below the level is dropped');
  t.match(lines[0], { level: 40, name: 'kube-log-enricher', component: 'reflector', resource: 'pods', msg: 'watch restarted' });
  t.match(lines[0]?.time, /^\d{4}-\d\d-\d\dT/, 'ISO timestamps');
});
