/**
 * The live-tail page's files reach users: in the npm package (package.json "files") and in the
 * image's runtime stage, at the place src/server/ui/assets.ts looks for them beside dist/.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { UI_DIR } from '../../src/server/ui/assets.ts';

const pageFiles = readdirSync(UI_DIR).map((f) => `ui/${f}`).sort();

t.test('npm pack includes every file of the page', async (t) => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const packed = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { files: { path: string }[] }[];
  const files = new Set(packed[0]!.files.map((f) => f.path));
  t.same(pageFiles.filter((f) => !files.has(f)), [], 'none missing');
  t.ok(pageFiles.includes('ui/index.html'));
});

t.test("the image's runtime stage copies ui/ next to dist/, where the compiled service looks", async (t) => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
  t.match(runtime, /^COPY --from=build \/app\/ui \.\/ui$/m);
  t.match(runtime, /^COPY --from=build \/app\/dist \.\/dist$/m);
  // dist/server/ui/assets.js resolves ../../../ui/ as src/server/ui/assets.ts does.
  t.equal(fileURLToPath(new URL('../../../ui/', 'file:///app/dist/server/ui/assets.js')), '/app/ui/');
});
