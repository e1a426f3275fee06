/**
 * The kube-log-enricher command line: picks the subcommand, handles --help and --version, loads
 * and validates the configuration (exit 2 with one line per problem), then runs the command.
 */
import { formatConfigError, loadConfig } from '../config/index.ts';
import { COMMANDS, EXIT_USAGE } from './commands.ts';
import type { CliIo, Command } from './commands.ts';
import { PROGRAM, commandHelp, topLevelHelp } from './help.ts';
import { closest } from '../config/suggest.ts';
import { PACKAGE_VERSION } from '../version/index.ts';


function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** True when -h/--help appears among the options (before a "--" terminator). */
function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

export async function main(argv: readonly string[], io: CliIo = defaultIo(), commands: readonly Command[] = COMMANDS): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(topLevelHelp(commands, PACKAGE_VERSION));
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(topLevelHelp(commands, PACKAGE_VERSION));
    return 0;
  }
  if (first === '--version') {
    io.stdout.write(`${PACKAGE_VERSION}\n`);
    return 0;
  }
  if (first === 'help') {
    const named = commands.find((command) => command.name === rest[0]);
    io.stdout.write(named === undefined ? topLevelHelp(commands, PACKAGE_VERSION) : commandHelp(named));
    return 0;
  }
  const command = commands.find((candidate) => candidate.name === first);
  if (command === undefined) {
    if (first.startsWith('-')) {
      io.stderr.write(`${PROGRAM}: unknown option "${first}"; options go after the command, e.g. ${PROGRAM} serve --config FILE\n`);
    } else {
      const suggestion = closest(first, commands.map((candidate) => candidate.name));
      io.stderr.write(`${PROGRAM}: unknown command "${first}"${suggestion === undefined ? '' : `, did you mean "${suggestion}"?`}\n`);
    }
    io.stderr.write(`Run '${PROGRAM} --help' for the list of commands.\n`);
    return EXIT_USAGE;
  }
  if (wantsHelp(rest)) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  const loaded = loadConfig({ argv: rest, env: io.env, cwd: io.cwd, flags: command.flags, configFileArgument: command.configFileArgument });
  if (!loaded.ok) {
    for (const error of loaded.errors) io.stderr.write(`${formatConfigError(error)}\n`);
    return EXIT_USAGE;
  }
  return command.run(loaded.config, { io });
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
