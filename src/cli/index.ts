/** The command line: entry point, command registry and the signal-driven service runner. */
export { main } from './main.ts';
export { COMMANDS } from './commands.ts';
export type { Command, CommandContext, CliIo } from './commands.ts';
export { runUntilSignal } from './run-until-signal.ts';
export type { StoppableService, RunUntilSignalOptions, SignalSource } from './run-until-signal.ts';
