/**
 * The subcommands (SPEC.md section 1). Each gets the validated Config; main.ts has already
 * handled --help and configuration errors. serve/source/agent/demo are wired in once the
 * service, reflector, file source and simulator land.
 */
import { formatConfigYaml } from '../config/index.ts';
import type { Config, ConfigFlagName } from '../config/index.ts';

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

function notYet(name: string, missing: string): (config: Config, ctx: CommandContext) => Promise<number> {
  return async (_config, ctx) => {
    ctx.io.stderr.write(`kube-log-enricher ${name} is not available yet: ${missing}\n`);
    return 1;
  };
}

export const COMMANDS: readonly Command[] = [
  {
    name: 'serve',
    summary: 'the enrichment service: reflector store + HTTP/WebSocket API + metrics',
    usage: '[options]',
    description: 'Watches pods, namespaces and nodes and enriches log events posted to its HTTP/WebSocket API. SIGTERM or SIGINT shuts it down gracefully.',
    flags: ['config', 'set', ...SERVER_FLAGS, ...KUBE_FLAGS, 'log-level'],
    run: notYet('serve', 'the enrichment service (reflector store and HTTP API) is not wired into the CLI'),
  },
  {
    name: 'source',
    summary: 'the bundled file source alone, posting to a service URL (--service URL)',
    usage: '--service URL [options]',
    description: 'Tails the pod log tree and posts raw events to an enrichment service; enriched events go to the sink. SIGTERM or SIGINT stops reading, flushes and writes checkpoints.',
    flags: ['config', 'set', 'service', ...SOURCE_FLAGS, 'log-level'],
    run: notYet('source', 'the file source is not wired into the CLI'),
  },
  {
    name: 'agent',
    summary: 'service and file source in one process (the DaemonSet default)',
    usage: '[options]',
    description: 'Runs the enrichment service and the file source in one process, the source feeding the enricher directly. SIGTERM or SIGINT shuts both down gracefully.',
    flags: ['config', 'set', ...SERVER_FLAGS, ...KUBE_FLAGS, ...SOURCE_FLAGS, 'log-level'],
    run: notYet('agent', 'the enrichment service and the file source are not wired into the CLI'),
  },
  {
    name: 'demo',
    summary: 'agent on an embedded simulated cluster; needs no cluster',
    usage: '[options]',
    description: 'Runs the agent against a simulated API server on loopback with generated pods and a growing pod-log tree in a temp dir, printing enriched NDJSON and serving the API.',
    flags: ['config', 'set', 'listen', 'schema', 'deletion-delay', 'read-from', 'sink', 'log-level'],
    run: notYet('demo', 'the simulated cluster and the agent are not wired into the CLI'),
  },
  {
    name: 'check-config',
    summary: 'validate a config file and print the effective config, or the errors',
    usage: 'FILE [options]',
    description: 'Loads FILE with the environment and flags applied, as every other command would, and prints the effective configuration as YAML (secrets redacted). Exits 2, printing one line per problem, when it is invalid.',
    flags: ['config', 'set', 'listen', 'auth-token-file', 'kubeconfig', 'context', 'node-name', 'deletion-delay', 'schema', 'pods-dir', 'data-dir', 'read-from', 'sink', 'service', 'log-level'],
    configFileArgument: true,
    run: async (config, ctx) => {
      ctx.io.stdout.write(formatConfigYaml(config));
      return 0;
    },
  },
];
