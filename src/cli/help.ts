/** --help texts, built from the command registry and the config key table. */
import { CONFIG_FLAGS, configKeys } from '../config/index.ts';
import type { Command } from './commands.ts';

export const PROGRAM = 'kube-log-enricher';

function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join('\n');
}

export function topLevelHelp(commands: readonly Command[], version: string): string {
  const commandRows = commands.map((command) => [command.configFileArgument === true ? `${command.name} FILE` : command.name, command.summary] as const);
  return `${PROGRAM} ${version}: gives every container log line on a Kubernetes node its pod's identity and metadata.

Usage: ${PROGRAM} <command> [options]

Commands:
${table(commandRows)}

Options:
${table([['-h, --help', 'show this help; after a command, that command\'s help'], ['--version', 'print the version']])}

Run '${PROGRAM} <command> --help' for a command's options. Configuration comes from
--config FILE, KLE_<SECTION>_<KEY> environment variables and flags (flags > environment > file >
defaults); every key is listed in docs/configuration.md.
`;
}

export function commandHelp(command: Command): string {
  const rows: [string, string][] = [];
  for (const name of command.flags) {
    const flag = CONFIG_FLAGS.find((candidate) => candidate.name === name);
    if (flag === undefined) continue;
    const key = flag.key === undefined ? undefined : configKeys.find((candidate) => candidate.id === flag.key);
    const keyNote = key === undefined ? '' : ` [${key.id}${key.default === undefined ? '' : `, default ${JSON.stringify(key.default)}`}]`;
    rows.push([`--${flag.name} ${flag.valueName}`, `${flag.help}${keyNote}`]);
  }
  rows.push(['-h, --help', 'show this help']);
  return `Usage: ${PROGRAM} ${command.name} ${command.usage}

${command.description}

Options:
${table(rows)}

Every key can also be set with --set key.path=VALUE or a KLE_<SECTION>_<KEY> variable
(e.g. KLE_SERVER_LISTEN); flags > environment > file > defaults. Keys: docs/configuration.md.
Invalid configuration exits with status 2, printing one line per problem.
`;
}
