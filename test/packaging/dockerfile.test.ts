// The Dockerfile, checked statically (no Docker engine here): parsed with dockerfile-ast,
// then walked stage by stage to know which paths each stage has, so every COPY is
// checked against the repo, .dockerignore and the stage it copies from.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import type { Instruction } from 'dockerfile-ast';
import { parseDockerIgnore } from './dockerignore.ts';
import { loadChart, repoRoot } from './chart.ts';

const dockerfileText = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
const dockerignore = parseDockerIgnore(readFileSync(join(repoRoot, '.dockerignore'), 'utf8'));
const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
  /** absolute paths this stage's file system has under its WORKDIRs */
  paths: Set<string>;
  workdir: string;
  user: string | undefined;
}

interface CopyRecord {
  stage: string;
  from: string | undefined;
  sources: string[];
  dest: string;
}

/** Top-level entries of the repo that reach the build context. */
function contextEntries(): string[] {
  return readdirSync(repoRoot).filter((entry) => !dockerignore.ignores(entry));
}

function argDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const arg of DockerfileParser.parse(dockerfileText).getInitialARGs()) {
    const property = arg.getProperty();
    const value = property?.getValue();
    if (property !== null && property !== undefined && value !== null && value !== undefined) defaults.set(property.getName(), value);
  }
  return defaults;
}

function resolveArgs(text: string): string {
  const defaults = argDefaults();
  return text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (whole, name: string) => defaults.get(name) ?? whole);
}

function tsconfigOutDir(): string {
  const config = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
  return config.compilerOptions.outDir;
}

/** Splits the Dockerfile into stages and follows what each one puts on its file system. */
function readStages(): { stages: Stage[]; copies: CopyRecord[] } {
  const dockerfile = DockerfileParser.parse(dockerfileText);
  const stages: Stage[] = [];
  const copies: CopyRecord[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      const image = resolveArgs(args[0] ?? '');
      const name = args[1]?.toUpperCase() === 'AS' ? (args[2] ?? '') : String(stages.length);
      const parent = stages.find((s) => s.name === image);
      stages.push({
        name,
        image,
        instructions: [],
        paths: new Set(parent?.paths ?? []),
        workdir: parent?.workdir ?? '/',
        user: parent?.user,
      });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (stage === undefined) continue; // ARG before the first FROM
    stage.instructions.push(instruction);
    if (keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, args[0] ?? '');
    else if (keyword === 'USER') stage.user = args[0];
    else if (keyword === 'RUN') {
      const command = instruction.getArgumentsContent() ?? '';
      if (/\bnpm ci\b/.test(command)) stage.paths.add(posix.join(stage.workdir, 'node_modules'));
      if (/\bnpm run build\b/.test(command)) stage.paths.add(posix.join(stage.workdir, tsconfigOutDir()));
      for (const made of command.matchAll(/\bmkdir -p ([^\s&;]+)/g)) stage.paths.add(posix.resolve(stage.workdir, made[1] ?? ''));
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      const copy = instruction as unknown as { getFromFlag(): { getValue(): string | null } | null };
      const from = copy.getFromFlag()?.getValue() ?? undefined;
      const sources = args.slice(0, -1);
      const dest = args[args.length - 1] ?? '';
      copies.push({ stage: stage.name, from, sources, dest });
      const destDir = posix.resolve(stage.workdir, dest);
      const intoDir = dest.endsWith('/') || dest === '.' || sources.length > 1;
      for (const source of sources) {
        if (from === undefined && (source === '.' || source === './')) {
          for (const entry of contextEntries()) stage.paths.add(posix.join(destDir, entry));
        } else {
          stage.paths.add(intoDir ? posix.join(destDir, basename(source)) : destDir);
        }
      }
    }
  }
  return { stages, copies };
}

const { stages, copies } = readStages();
const runtime = stages[stages.length - 1] as Stage;

function isOfficialNode24(image: string): boolean {
  // Docker Hub official image: "node" or "docker.io/library/node", tag 24 or 24.x...
  return /^(?:docker\.io\/library\/)?node:24(?:[.-][^@]*)?(?:@sha256:[a-f0-9]{64})?$/.test(image);
}

function runsIn(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent() ?? '');
}

function jsonArgs(keyword: string, stage: Stage): string[] | undefined {
  const found = stage.instructions.filter((i) => i.getKeyword() === keyword);
  const last = found[found.length - 1];
  if (last === undefined) return undefined;
  return JSON.parse(last.getArgumentsContent() ?? 'null') as string[];
}

t.test('every stage builds from an official Node 24 image or an earlier stage', async (t) => {
  t.ok(stages.length >= 2, 'multi-stage build');
  for (const [index, stage] of stages.entries()) {
    const earlier = stages.slice(0, index).some((s) => s.name === stage.image);
    t.ok(earlier || isOfficialNode24(stage.image), `stage ${stage.name}: ${stage.image}`);
  }
  t.ok(isOfficialNode24(runtime.image), 'the runtime stage is the official image itself');
  t.match(dockerfileText, /\n#[^\n]*(?:slim|distroless)/i, 'the base image choice is explained in a comment');
});

t.test('every COPY source exists: in the build context, or in the stage it comes from', async (t) => {
  for (const copy of copies) {
    if (copy.from === undefined) {
      for (const source of copy.sources) {
        t.ok(existsSync(join(repoRoot, source)), `${source} exists in the repo`);
        if (source !== '.' && source !== './') t.notOk(dockerignore.ignores(source), `${source} is not excluded by .dockerignore`);
      }
    } else {
      const from = stages.find((s) => s.name === copy.from);
      t.ok(from, `stage ${copy.from} is defined`);
      t.ok(stages.findIndex((s) => s.name === copy.from) < stages.findIndex((s) => s.name === copy.stage), `stage ${copy.from} comes before ${copy.stage}`);
      for (const source of copy.sources) t.ok(from?.paths.has(source), `${source} is made in stage ${copy.from}`);
    }
  }
});

t.test('the build context carries what `npm run build` needs and nothing that must not shadow the build', async (t) => {
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/config/index.ts', 'bin/kube-log-enricher.js']) {
    t.notOk(dockerignore.ignores(needed), `${needed} is in the context`);
  }
  for (const excluded of ['node_modules', 'node_modules/.bin/node', 'dist/cli/main.js', '.git', '.git/HEAD', '.tap/processinfo', '.taprc', 'coverage/index.html', 'test/smoke.test.ts', '.env', 'helm/kube-log-enricher/values.yaml']) {
    t.ok(dockerignore.ignores(excluded), `${excluded} is excluded`);
  }
});

t.test('the build stage compiles with `npm run build`; runtime dependencies come from `npm ci --omit=dev`', async (t) => {
  const build = stages.find((s) => runsIn(s).some((run) => /\bnpm run build\b/.test(run)));
  t.ok(build, 'a stage runs npm run build');
  t.ok(build && runsIn(build).some((run) => /\bnpm ci\b/.test(run)), 'after npm ci in the same stage');
  t.equal(packageJson.devDependencies.node !== undefined, true, 'package.json has the `node` dev dependency the image must not carry');

  const modules = copies.find((c) => c.stage === runtime.name && c.sources.includes('/app/node_modules'));
  t.ok(modules, 'the runtime copies node_modules from an earlier stage');
  const depsStage = stages.find((s) => s.name === modules?.from);
  const installsProdOnly = depsStage !== undefined && runsIn(depsStage).some((run) => /\bnpm ci\b[^&;]*--omit=dev/.test(run) || /\bnpm prune\b[^&;]*--omit=dev/.test(run));
  t.ok(installsProdOnly, `stage ${modules?.from} installs production dependencies only (no tsc, tap or the node binary package)`);
  t.notOk(runsIn(runtime).some((run) => /\bnpm (ci|install|i)\b/.test(run)), 'the runtime stage installs nothing with npm');
});

t.test('ENTRYPOINT runs the package.json bin with node; CMD defaults to the agent', async (t) => {
  const entrypoint = jsonArgs('ENTRYPOINT', runtime);
  const cmd = jsonArgs('CMD', runtime);
  t.ok(Array.isArray(entrypoint), 'ENTRYPOINT is in exec (JSON) form, so node is PID 1 and gets SIGTERM');
  t.equal(entrypoint?.[0], 'node');
  const script = entrypoint?.[entrypoint.length - 1] ?? '';
  const binPath = packageJson.bin['kube-log-enricher'] ?? '';
  t.equal(posix.resolve(runtime.workdir, script), posix.resolve(runtime.workdir, binPath), `runs ${binPath}`);
  t.ok(runtime.paths.has(posix.resolve(runtime.workdir, dirname(binPath))), 'the bin directory is in the image');
  // The bin imports the compiled CLI: that directory must be in the image too.
  const binSource = readFileSync(join(repoRoot, binPath), 'utf8');
  const imported = /from '(\.\.\/[^']+)'/.exec(binSource)?.[1];
  t.ok(imported, 'the bin imports the compiled CLI');
  const importedTop = posix.resolve(posix.dirname(posix.resolve(runtime.workdir, binPath)), imported ?? '').split('/').slice(0, 3).join('/');
  t.ok(runtime.paths.has(importedTop), `${importedTop} (imported by the bin) is in the image`);
  t.ok(runtime.paths.has(posix.join(runtime.workdir, 'package.json')), 'package.json ("type": "module") is in the image');
  t.same(cmd, ['agent'], 'CMD ["agent"]');
});

t.test('the runtime runs as a numeric non-root user, without HEALTHCHECK', async (t) => {
  t.ok(runtime.user, 'USER is set in the runtime stage');
  const [uid, gid] = (runtime.user ?? '').split(':');
  t.match(uid, /^\d+$/, 'numeric UID (runAsNonRoot can verify it)');
  t.not(Number(uid), 0, 'not root');
  if (gid !== undefined) t.match(gid, /^\d+$/, 'numeric GID');
  t.equal(DockerfileParser.parse(dockerfileText).getHEALTHCHECKs().length, 0, 'no HEALTHCHECK: Kubernetes probes do that');
  t.notOk(/^\s*VOLUME\b/m.test(dockerfileText), 'no VOLUME: the data dir is a volume the deployment chooses');
});

t.test('EXPOSE matches the chart\'s API port; the default stays loopback', async (t) => {
  const exposed = runtime.instructions.filter((i) => i.getKeyword() === 'EXPOSE').flatMap((i) => i.getArguments().map((a) => a.getValue()));
  const chart = loadChart();
  const api = chart.values.api as { port: number };
  t.same(exposed, [String(api.port)]);
  const env = runtime.instructions.filter((i) => i.getKeyword() === 'ENV').map((i) => i.getArgumentsContent() ?? '');
  t.notOk(env.some((e) => /KLE_SERVER_LISTEN/.test(e)), 'the image does not widen the listen address; the chart does');
});
