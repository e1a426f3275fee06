/**
 * What appending the agent benchmark's output costs this machine by itself, with no agent: 2.9 GB
 * in 1.4 MB writes through the real file sink, four rounds, each file deleted after its round,
 * with and without a pause between rounds. On the 2-vCPU VMs these benchmarks run on, system time
 * per round was 0.6-0.7 s back to back but 2.0-2.8 s with 5 s pauses: freed guest memory goes back
 * to the host within seconds and must be backed again. bench/agent.bench.ts refers to it.
 *
 * Run: node bench/file-writes.ts   (not part of `npm run bench`; asserts nothing)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createFileSink } from '../src/sink/index.ts';

const WRITES = 2000;
const chunk = { bytes: Buffer.alloc(1_450_000, 0x61), events: 1000 };
const dir = mkdtempSync(join(os.tmpdir(), 'file-writes-'));
try {
  for (const pauseMs of [0, 5000]) {
    for (let round = 0; round < 4; round++) {
      const path = join(dir, `out-${round}.ndjson`);
      const sink = createFileSink(path);
      const started = performance.now();
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < WRITES; i++) await sink.write(chunk);
      await sink.close();
      const cpu = process.cpuUsage(cpu0);
      console.log(
        `pause ${pauseMs} ms, round ${round}: ${((WRITES * chunk.bytes.length) / 1e9).toFixed(1)} GB in ${((performance.now() - started) / 1000).toFixed(2)} s, ` +
          `system ${(cpu.system / 1e6).toFixed(2)} s`,
      );
      rmSync(path);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
