import t from 'tap';
import { defaultConfig, formatConfigYaml, loadConfig, parseConfig, redactConfig } from '../../src/config/index.ts';
import type { Config } from '../../src/config/index.ts';

function configWith(input: unknown): Config {
  const result = parseConfig(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.config;
}

t.test('redactConfig hides secrets and leaves the input alone', async (t) => {
  const config = configWith({ server: { authToken: 'server-secret' }, source: { serviceToken: 'source-secret', serviceTokenFile: undefined } });
  const redacted = redactConfig(config);
  t.equal(redacted.server.authToken, '<redacted>');
  t.equal(redacted.source.serviceToken, '<redacted>');
  t.equal(config.server.authToken, 'server-secret', 'input untouched');
  t.equal(redacted.server.listen, config.server.listen);
  // Unset secrets stay unset rather than appearing as "<redacted>".
  t.equal(redactConfig(defaultConfig()).server.authToken, undefined);
});

t.test('formatConfigYaml spells units out, hides secrets, and loads back to the same config', async (t) => {
  const config = configWith({
    kubernetes: { deletionDelay: '90s', backoff: { initial: '250ms', max: '1h' }, nodeName: 'node-1' },
    server: { maxBodyBytes: '10MB', authTokenFile: '/run/token', tls: { certFile: '/c', keyFile: '/k' } },
    enrichment: { rename: { 'kubernetes.pod_labels': 'kubernetes.labels' }, schema: 'otel' },
    source: { include: ['**/*.{log,gz}'], maxLineBytes: '1536B', rotateWait: '1h30m' },
  });
  const text = formatConfigYaml(config);
  t.match(text, /deletionDelay: 90s\n/);
  t.match(text, /initial: 250ms\n/);
  t.match(text, /maxBodyBytes: 10MB\n/);
  t.match(text, /maxLineBytes: 1536B\n/);
  t.match(text, /rotateWait: 90m\n/);
  t.notMatch(text, /authToken:/, 'unset keys are left out');
  const dir = t.testdir({ 'printed.yaml': text });
  const reloaded = loadConfig({ argv: ['--config', 'printed.yaml'], env: {}, cwd: dir });
  t.same(reloaded, { ok: true, config });

  const withSecret = formatConfigYaml(configWith({ server: { authToken: 'abc-secret' } }));
  t.notMatch(withSecret, /abc-secret/);
  t.match(withSecret, /authToken: <redacted>\n/);
});
