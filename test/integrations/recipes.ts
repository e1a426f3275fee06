/**
 * The recipes of docs/integrations.md, read from the document itself: each configuration block is
 * preceded by `<!-- recipe: NAME -->`. Tests load our side's YAML through the real config loader
 * and derive the shipper's request format from the shipper's documented configuration, so the
 * page and the tests cannot tell different stories.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig, type Config } from '../../src/config/index.ts';

export const INTEGRATIONS_DOC = fileURLToPath(new URL('../../docs/integrations.md', import.meta.url));

const RECIPE = /<!-- recipe: (\S+) -->\n```[a-z]*\n([\s\S]*?)```/g;

/** Every recipe block of the document, by name. */
export function recipeBlocks(text = readFileSync(INTEGRATIONS_DOC, 'utf8')): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(RECIPE)) {
    const name = match[1]!;
    if (blocks.has(name)) throw new Error(`docs/integrations.md: recipe ${name} appears twice`);
    blocks.set(name, match[2]!);
  }
  return blocks;
}

export function recipe(name: string): string {
  const block = recipeBlocks().get(name);
  if (block === undefined) throw new Error(`docs/integrations.md has no recipe block named ${name}`);
  return block;
}

/** A YAML recipe (Vector, the collector) as a plain value. */
export function yamlRecipe(name: string): Record<string, unknown> {
  return parseYaml(recipe(name)) as Record<string, unknown>;
}

/** Our side of a recipe, through the same loader `--config FILE` uses; throws with every problem. */
export function serviceConfig(name: string, env: Record<string, string> = {}): Config {
  const text = recipe(name);
  const result = loadConfig({ argv: ['--config', 'kube-log-enricher.yaml'], env, cwd: '/', readFile: () => text });
  if (!result.ok) throw new Error(`recipe ${name} is not a valid configuration:\n${JSON.stringify(result.errors, null, 2)}`);
  return result.config;
}

/** `${NAME}` as Vector and Fluent Bit substitute environment variables in their configuration. */
export function substituteEnv(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const found = env[name];
    if (found === undefined) throw new Error(`\${${name}} is not set`);
    return found;
  });
}

// --- Fluent Bit's classic configuration format ---------------------------------------------------

export interface FluentBitSection {
  /** SERVICE, INPUT, OUTPUT, PARSER, ... */
  kind: string;
  /** Keys lower-cased (Fluent Bit's are case-insensitive); repeated keys (Header) keep every value. */
  entries: [key: string, value: string][];
}

/** `[SECTION]` headers and indented `Key Value` lines; `#` comments (Fluent Bit classic mode). */
export function parseFluentBitClassic(text: string): FluentBitSection[] {
  const sections: FluentBitSection[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([A-Z_]+)\]$/.exec(line);
    if (header !== null) {
      sections.push({ kind: header[1]!, entries: [] });
      continue;
    }
    const current = sections.at(-1);
    if (current === undefined) throw new Error(`Fluent Bit config: "${line}" outside of a section`);
    const space = line.search(/\s/);
    if (space < 0) throw new Error(`Fluent Bit config: "${line}" has no value`);
    current.entries.push([line.slice(0, space).toLowerCase(), line.slice(space).trim()]);
  }
  return sections;
}

export function sectionValue(section: FluentBitSection, key: string): string | undefined {
  return section.entries.find(([k]) => k === key.toLowerCase())?.[1];
}

export function sectionValues(section: FluentBitSection, key: string): string[] {
  return section.entries.filter(([k]) => k === key.toLowerCase()).map(([, v]) => v);
}

/** The section of `kind` whose `Name` is `name` (e.g. the `http` OUTPUT). */
export function findSection(sections: readonly FluentBitSection[], kind: string, name: string, nth = 0): FluentBitSection {
  const found = sections.filter((s) => s.kind === kind && sectionValue(s, 'name') === name)[nth];
  if (found === undefined) throw new Error(`no [${kind}] with Name ${name} (#${nth})`);
  return found;
}
