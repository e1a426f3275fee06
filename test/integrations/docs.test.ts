/**
 * docs/integrations.md as a document: every recipe block is found and parses, every configuration
 * of our side loads without a problem, and the environment-variable and command-line forms the
 * page gives are the same configuration as its files.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { COMMANDS } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/index.ts';
import { INTEGRATIONS_DOC, parseFluentBitClassic, recipeBlocks, serviceConfig } from './recipes.ts';

const text = readFileSync(INTEGRATIONS_DOC, 'utf8');
const blocks = recipeBlocks(text);

t.test('every recipe marker is followed by its code block', async (t) => {
  const markers = [...text.matchAll(/<!-- recipe: (\S+) -->/g)].map((m) => m[1]);
  t.same([...blocks.keys()], markers);
  t.ok(blocks.size >= 10, `${blocks.size} recipes`);
});

t.test('every recipe parses in its own language', async (t) => {
  for (const [name, block] of blocks) {
    if (name.endsWith('.yaml')) t.type(parseYaml(block), 'object', `${name} is a YAML map`);
    else if (name.endsWith('.conf')) t.ok(parseFluentBitClassic(block).length > 0, `${name} has Fluent Bit sections`);
    else if (name.endsWith('.mjs')) t.match(block, /^import (WebSocket from 'ws'|\* as grpc from '@grpc\/grpc-js');$/m, `${name} is an ES module using ws or @grpc/grpc-js`);
    else if (name.endsWith('.sh')) t.match(block, /^websocat /, `${name} is a websocat command`);
    else t.fail(`recipe ${name}: unknown kind`);
  }
});

t.test('every configuration of our side loads as it is', async (t) => {
  const ours = [...blocks.keys()].filter((name) => /kube-log-enricher[^/]*\.yaml$/.test(name));
  t.ok(ours.length >= 4);
  for (const name of ours) t.doesNotThrow(() => serviceConfig(name), name);
});

t.test('the environment variables given for the Vector recipe are the same configuration', async (t) => {
  const paragraph = /The same with environment variables: (.*?)\.\n/s.exec(text)?.[1] ?? '';
  const env = Object.fromEntries([...paragraph.matchAll(/`(KLE_[A-Z_]+)=([^`]+)`/g)].map((m) => [m[1]!, m[2]!]));
  t.ok(Object.keys(env).length >= 3, Object.keys(env).join(', '));
  const fromEnv = loadConfig({ argv: [], env, cwd: '/' });
  if (!fromEnv.ok) throw new Error(JSON.stringify(fromEnv.errors));
  const fromFile = serviceConfig('vector/kube-log-enricher.yaml');
  t.same(fromEnv.config.enrichment.input, fromFile.enrichment.input);
  t.equal(fromEnv.config.source.sink, fromFile.source.sink);
  t.equal(fromEnv.config.server.authTokenFile, fromFile.server.authTokenFile);
});

t.test('serve takes the sink with --set, as the page says', async (t) => {
  const serve = COMMANDS.find((c) => c.name === 'serve');
  t.ok(serve);
  const result = loadConfig({ argv: ['--set', 'source.sink=http://127.0.0.1:8081/'], env: {}, cwd: '/', flags: serve!.flags });
  t.ok(result.ok, JSON.stringify(result.ok ? [] : result.errors));
  if (result.ok) t.equal(result.config.source.sink, 'http://127.0.0.1:8081/');
});
