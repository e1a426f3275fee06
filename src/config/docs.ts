/** docs/configuration.md, generated from the key table so the reference cannot drift from the schema. */
import { configRoot, isSection } from './keys.ts';
import type { ConfigKey, ConfigSection } from './keys.ts';
import { CONFIG_FLAGS, CONVENTIONAL_ENV } from './overrides.ts';
import { formatConfigError } from './errors.ts';
import { loadConfig } from './load.ts';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function code(text: string): string {
  return `\`${text}\``;
}

function defaultText(key: ConfigKey): string {
  if (key.default === undefined) return 'unset';
  return code(JSON.stringify(key.default));
}

function envText(key: ConfigKey): string {
  const names = [key.env, ...CONVENTIONAL_ENV.filter((entry) => entry.key === key.id).map((entry) => entry.name)];
  return names.map(code).join(', ');
}

function flagText(key: ConfigKey): string {
  const flag = CONFIG_FLAGS.find((candidate) => candidate.key === key.id);
  return flag === undefined ? '' : code(`--${flag.name}`);
}

function leaves(section: ConfigSection): ConfigKey[] {
  const out: ConfigKey[] = [];
  for (const child of section.children.values()) {
    if (isSection(child)) out.push(...leaves(child));
    else out.push(child);
  }
  return out;
}

function subsectionNotes(section: ConfigSection): string[] {
  const notes: string[] = [];
  for (const child of section.children.values()) {
    if (!isSection(child)) continue;
    notes.push(`- ${code(child.id)}${child.optional ? ' (optional; when set, all its keys are required)' : ''}: ${child.description}`);
    notes.push(...subsectionNotes(child));
  }
  return notes;
}

/** A real error line, produced by the loader, so the example cannot go stale. */
function exampleError(): string {
  const result = loadConfig({ argv: ['--config', 'config.yaml'], env: {}, cwd: '/', readFile: () => 'server:\n  listen: 127.0.0.1:8080\n  maxBodyBytes: 8mb\n' });
  if (result.ok || result.errors[0] === undefined) throw new Error('docs example: expected a config error');
  return formatConfigError(result.errors[0]);
}

const intro = () => `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`. Do not edit by hand. -->

Every subcommand reads the same configuration. Sources, strongest first:

1. **Flags**: the named flags below (each command accepts those that concern it; see
   \`kube-log-enricher <command> --help\`), and \`--set key.path=value\` (repeatable) for any key,
   e.g. \`--set source.rotateWait=10s\` or \`--set enrichment.rename.kubernetes.pod_labels=kubernetes.labels\`.
2. **Environment**: \`KLE_<SECTION>_<KEY>\` in upper snake case (\`KLE_SERVER_LISTEN\`,
   \`KLE_KUBERNETES_DELETION_DELAY\`). Lists are comma-separated (commas inside \`{...}\` glob braces
   are kept), maps are \`key=value,key=value\`, booleans are \`true\`/\`false\`; a list or map given this way
   replaces the file's whole value. Empty variables count as unset. The conventional variables
   ${CONVENTIONAL_ENV.map((entry) => code(entry.name)).join(', ')} are read too, weaker than the \`KLE_*\` ones.
   An unknown \`KLE_*\` variable is an error (Kubernetes service links such as \`KLE_SERVICE_HOST\` are
   ignored).
3. **File**: \`--config FILE\`, YAML (\`.yaml\`, \`.yml\`, or any other name) or JSON (\`.json\`). A key set to
   \`null\` or left empty counts as unset.
4. **Defaults**, listed below.

Durations are written with a unit, \`ms\`, \`s\`, \`m\` or \`h\`: \`500ms\`, \`60s\`, \`5m\`, \`1h\`, also
compound (\`1h30m\`); a bare number is rejected. Sizes: \`512B\`, \`64KiB\`, \`1MiB\`, \`1GiB\` (powers of
1024), \`10KB\`, \`10MB\`, \`1GB\` (powers of 1000), and Kubernetes' \`Ki\`, \`Mi\`, \`Gi\`.

Unknown keys are errors. \`kube-log-enricher check-config FILE\` prints the effective configuration
(secrets shown as \`<redacted>\`) or every problem, one per line, and exits with status 2:

\`\`\`
${exampleError()}
\`\`\`
`;

export function renderConfigDocs(): string {
  const parts = [intro()];
  for (const section of configRoot.children.values()) {
    if (!isSection(section)) continue;
    parts.push(`## ${code(section.id)}\n\n${section.description}\n`);
    const notes = subsectionNotes(section);
    if (notes.length > 0) parts.push(`${notes.join('\n')}\n`);
    const rows = leaves(section).map((key) => `| ${[code(key.id), key.secret ? `${key.typeLabel} (secret)` : key.typeLabel, defaultText(key), envText(key), flagText(key), key.description].map(cell).join(' | ')} |`);
    parts.push(['| Key | Type | Default | Environment | Flag | Description |', '| --- | --- | --- | --- | --- | --- |', ...rows].join('\n') + '\n');
  }
  return parts.join('\n');
}
