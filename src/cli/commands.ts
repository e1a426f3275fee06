/**
 * The subcommands (README.md, Commands). Each gets the validated Config; main.ts has already
 * handled --help and configuration errors.
 */
import { homedir } from 'node:os';
import { formatConfigYaml, readTokenFile, tokenFileSettings } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { startAgent } from '../runtime/agent.ts';
import { startService, type RuntimeEnv } from '../runtime/service.ts';
import { startRemoteSource } from '../runtime/source.ts';
import { runUntilSignal, type StoppableService } from './run-until-signal.ts';
import type { Config, ConfigFlagName } from '../config/index.ts';

/** Exit statuses: 0 success, 1 runtime failure, 2 bad usage or configuration. */
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface CommandContext {
  io: CliIo;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Arguments after the command name, e.g. "FILE [options]". */
  usage: string;
  /** Paragraph under the usage line in `<command> --help`. */
  description: string;
  /** Named flags accepted besides --help. */
  flags: readonly ConfigFlagName[];
  /** Takes one FILE argument used as the config file (check-config). */
  configFileArgument?: boolean;
  run(config: Config, ctx: CommandContext): Promise<number>;
}

const KUBE_FLAGS: readonly ConfigFlagName[] = ['kubeconfig', 'context', 'node-name', 'deletion-delay'];
const SERVER_FLAGS: readonly ConfigFlagName[] = ['listen', 'auth-token-file', 'schema'];
const SOURCE_FLAGS: readonly ConfigFlagName[] = ['pods-dir', 'data-dir', 'read-from', 'sink'];

/**
 * Runs a long-lived part until SIGTERM/SIGINT. Start-up failures a user can act on (kubeconfig not
 * found, port in use) are one clear line and exit 1, never a stack trace.
 */
function longRunning(start: (config: Config, runtime: RuntimeEnv, ctx: CommandContext) => Promise<StoppableService>) {
  return async (config: Config, ctx: CommandContext): Promise<number> => {
    const logger = createLogger({ level: config.logging.level });
    const runtime: RuntimeEnv = { env: ctx.io.env, homeDir: homedir(), logger, stdout: process.stdout };
    return runUntilSignal(() => start(config, runtime, ctx), { log: (m) => ctx.io.stderr.write(`kube-log-enricher: ${m}\n`) });
  };
}

async function runDemo(config: Config, runtime: RuntimeEnv, ctx: CommandContext): Promise<StoppableService> {
  // The demo's own story is told on stderr in three lines; routine info logs would drown it.
  const quiet: RuntimeEnv = config.logging.level === 'info' ? { ...runtime, logger: createLogger({ level: 'warn' }) } : runtime;
  // Loaded only here: the simulated cluster is not part of the agent's memory.
  const { startDemo } = await import('../demo/demo.ts');
  const demo = await startDemo(config, quiet);
  const url = demo.agent.service.url;
  const pods = demo.agent.service.store.counts().find((c) => c.kind === 'pods')?.live ?? 0;
  ctx.io.stderr.write(
    `Live tail in a browser: ${url}/\n` +
    `kube-log-enricher demo: a simulated cluster (${pods} pods on this node${demo.kubelet === undefined ? '' : `, read from a simulated kubelet at ${demo.kubelet.url}/pods`}) and a growing pod-log tree in ${demo.dir}; pods are created and deleted as it runs.\n` +
      `Enriched events follow on stdout (schema ${config.enrichment.schema}). API: ${url}/v1/lookup?file=PATH  ${url}/metrics  ${url}/readyz  ws: ${url.replace(/^http/, 'ws')}/v1/stream\n` +
      `Ctrl-C stops it and removes the temp dir.\n`,
  );
  return demo;
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'serve',
    summary: 'the enrichment service: reflector store + HTTP/WebSocket API + metrics',
    usage: '[options]',
    description: 'Watches pods, namespaces and nodes and enriches log events posted to its HTTP/WebSocket API. SIGTERM or SIGINT shuts it down gracefully.',
    flags: ['config', 'set', ...SERVER_FLAGS, ...KUBE_FLAGS, 'sink', 'log-level'],
    run: longRunning((config, runtime) => startService(config, runtime)),
  },
  {
    name: 'source',
    summary: 'the bundled file source alone, posting to a service URL (--service URL)',
    usage: '--service URL [options]',
    description: 'Tails the pod log tree and posts raw events to an enrichment service; enriched events go to the sink. SIGTERM or SIGINT stops reading, flushes and writes checkpoints.',
    flags: ['config', 'set', 'service', ...SOURCE_FLAGS, 'log-level'],
    run: longRunning((config, runtime) => startRemoteSource(config, runtime)),
  },
  {
    name: 'agent',
    summary: 'service and file source in one process (the DaemonSet default)',
    usage: '[options]',
    description: 'Runs the enrichment service and the file source in one process, the source feeding the enricher directly. SIGTERM or SIGINT shuts both down gracefully.',
    flags: ['config', 'set', ...SERVER_FLAGS, ...KUBE_FLAGS, ...SOURCE_FLAGS, 'log-level'],
    run: longRunning((config, runtime) => startAgent(config, runtime)),
  },
  {
    name: 'demo',
    summary: 'agent on an embedded simulated cluster; needs no cluster',
    usage: '[options]',
    description: 'Runs the agent against a simulated API server on loopback with generated pods and a growing pod-log tree in a temp dir, printing enriched NDJSON and serving the API and the live-tail page (its URL is printed first). With --set kubernetes.podSource=kubelet, the node\'s pods are polled from a simulated kubelet instead.',
    flags: ['config', 'set', 'listen', 'schema', 'deletion-delay', 'read-from', 'sink', 'log-level'],
    run: longRunning(runDemo),
  },
  {
    name: 'check-config',
    summary: 'validate a config file and print the effective config, or the errors',
    usage: 'FILE [options]',
    description: 'Loads FILE with the environment and flags applied, as every other command would, and prints the effective configuration as YAML (secrets redacted). Exits 2, printing one line per problem, when it is invalid or a token file it names (server.authTokenFile, source.serviceTokenFile) cannot be read or is empty.',
    flags: ['config', 'set', 'listen', 'auth-token-file', 'kubeconfig', 'context', 'node-name', 'deletion-delay', 'schema', 'pods-dir', 'data-dir', 'read-from', 'sink', 'service', 'log-level'],
    configFileArgument: true,
    run: async (config, ctx) => {
      // What start-up would refuse besides the schema: token files that cannot be read or are empty.
      const problems = tokenFileSettings(config).flatMap(({ key, path }) => {
        const read = readTokenFile(path);
        return read.ok ? [] : [`${key}: ${read.message}`];
      });
      if (problems.length > 0) {
        for (const problem of problems) ctx.io.stderr.write(`${problem}\n`);
        return EXIT_USAGE;
      }
      ctx.io.stdout.write(formatConfigYaml(config));
      return 0;
    },
  },
];
