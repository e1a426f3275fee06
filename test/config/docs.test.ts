import t from 'tap';
import { readFileSync } from 'node:fs';
import { CONFIG_FLAGS, CONVENTIONAL_ENV, configKeys, configSchema, renderConfigDocs } from '../../src/config/index.ts';
import { z } from 'zod';

t.test('docs/configuration.md is generated from the schema', async (t) => {
  const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  t.ok(committed === renderConfigDocs(), 'docs/configuration.md is out of date: regenerate it with `npm run docs:config` (node scripts/generate-config-docs.ts) and commit it');
});

t.test('every key is documented, with a unique variable', async (t) => {
  const docs = renderConfigDocs();
  const envNames = new Set<string>();
  for (const key of configKeys) {
    t.ok(key.description.length > 10, `${key.id} has a description`);
    t.match(key.env, /^KLE_[A-Z0-9_]+$/, `${key.id} variable name`);
    t.notOk(envNames.has(key.env), `${key.env} is unique`);
    envNames.add(key.env);
    t.ok(docs.includes(`| \`${key.id}\` |`), `${key.id} has a row`);
  }
  t.equal(configKeys.find((key) => key.id === 'kubernetes.deletionDelay')?.env, 'KLE_KUBERNETES_DELETION_DELAY');
  t.equal(configKeys.find((key) => key.id === 'source.podsDir')?.env, 'KLE_SOURCE_PODS_DIR');
  t.same(configKeys.filter((key) => key.secret).map((key) => key.id), ['server.authToken', 'source.serviceToken']);
  for (const flag of CONFIG_FLAGS) {
    if (flag.key !== undefined) t.ok(configKeys.some((key) => key.id === flag.key), `--${flag.name} sets a real key`);
  }
  for (const entry of CONVENTIONAL_ENV) t.ok(configKeys.some((key) => key.id === entry.key), `${entry.name} sets a real key`);
});

t.test('the key table agrees with the JSON Schema zod derives', async (t) => {
  // An independent reading of the same schema: every leaf path and default must match.
  const jsonSchema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonNode> };
  type JsonNode = { type?: string; properties?: Record<string, JsonNode>; default?: unknown; description?: string };
  const leaves = new Map<string, JsonNode>();
  const visit = (node: JsonNode, path: string[]) => {
    if (node.type === 'object' && node.properties !== undefined) {
      for (const [name, child] of Object.entries(node.properties)) visit(child, [...path, name]);
    } else {
      leaves.set(path.join('.'), node);
    }
  };
  visit(jsonSchema as JsonNode, []);
  t.same([...leaves.keys()].sort(), configKeys.map((key) => key.id).sort());
  for (const key of configKeys) {
    const node = leaves.get(key.id);
    t.same(node?.default, key.default, `${key.id} default`);
    t.equal(node?.description, key.description, `${key.id} description`);
  }
});
