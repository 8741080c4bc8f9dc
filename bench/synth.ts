/**
 * `npm run bench` (first part): wall time of `cdktf synth` with the app as cdktf.json runs
 * it (scripts/launch.js main.ts, compiled) for definitions of 6, 60 and 300 nodes, against
 * its floor, an empty cdktf app compiled alike (bench/empty-app.ts), measured side by side:
 * each round runs all of them one after the other, and the ratios are taken round by round,
 * so that a machine whose speed drifts still compares like with like. Targets: 6 nodes
 * within 1.2x of the empty app, 300 nodes within 1.3x of 6.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { stringify } from "yaml";

import { definitionWithNodes } from "./definitions";

const ROOT = resolve(__dirname, "..");
const CDKTF = join(ROOT, "node_modules", ".bin", "cdktf");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Wall time in ms of one `cdktf synth` with the given app command and definition. */
function timeSynth(label: string, app: string, definition?: string): number {
  const work = mkdtempSync(join(tmpdir(), "bench-"));
  const env = {
    ...process.env,
    CHECKPOINT_DISABLE: "1",
    STATE_DIR: join(work, "state"),
    ...(definition ? { CLUSTER_CONFIG: definition } : {}),
  };
  const start = process.hrtime.bigint();
  const run = spawnSync(CDKTF, ["synth", "--app", app, "--output", join(work, "out")], {
    cwd: ROOT,
    env,
    encoding: "utf8",
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  rmSync(work, { recursive: true, force: true });
  if (run.status !== 0)
    throw new Error(`${label}: cdktf synth failed\n${run.stdout}\n${run.stderr}`);
  return ms;
}

/** The compiled app, as cdktf.json runs it (scripts/launch.js); built first if stale. */
function buildApp(): void {
  const build = spawnSync("npm", ["run", "--silent", "build:app"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0)
    throw new Error(`npm run build:app failed\n${build.stdout}${build.stderr}`);
}

function main(): void {
  buildApp();
  const defs = mkdtempSync(join(tmpdir(), "bench-defs-"));
  const file = (nodes: number) => {
    const path = join(defs, `cluster-${nodes}.yaml`);
    writeFileSync(path, stringify(definitionWithNodes(nodes)));
    return path;
  };
  const app = "node scripts/launch.js main.ts";
  const floorApp = `node ${join("dist", "app", "bench", "empty-app.js")}`;
  const sizes = [6, 60, 300];
  const files = sizes.map(file);
  // One untimed round: the file system caches are warm for every timed one.
  timeSynth("warm-up", floorApp);
  timeSynth("warm-up", app, files[0]);
  const rounds: { floor: number; nodes: number[] }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const floor = timeSynth("empty app", floorApp);
    rounds.push({ floor, nodes: files.map((f, j) => timeSynth(`${sizes[j]} nodes`, app, f)) });
  }
  rmSync(defs, { recursive: true, force: true });

  const s = (ms: number) => `${(ms / 1000).toFixed(2).padStart(7)} s`;
  const ratio = (label: string, values: number[], target: number) => {
    const m = median(values);
    const range = `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
    return `${label}: ${m.toFixed(2)}x (rounds ${range}; target <= ${target}x) ${m <= target ? "ok" : "MISSED"}\n`;
  };
  process.stdout.write(`cdktf synth, ${RUNS} rounds side by side, medians\n`);
  process.stdout.write(`${"empty app".padEnd(14)} ${s(median(rounds.map((r) => r.floor)))}\n`);
  sizes.forEach((n, j) =>
    process.stdout.write(
      `${`${n} nodes`.padEnd(14)} ${s(median(rounds.map((r) => r.nodes[j])))}\n`,
    ),
  );
  process.stdout.write(
    ratio(
      "6 nodes / empty app",
      rounds.map((r) => r.nodes[0] / r.floor),
      1.2,
    ) +
      ratio(
        "300 nodes / 6 nodes",
        rounds.map((r) => r.nodes[2] / r.nodes[0]),
        1.3,
      ),
  );
}

if (require.main === module) main();
