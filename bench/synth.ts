/**
 * `npm run bench`: wall time of `cdktf synth` for definitions of 6, 60 and 300 nodes and
 * for an empty cdktf app (the floor), median of a few runs each, with the ratios the
 * vms issue sets as targets: 6 nodes within 1.5x the floor, 300 within 2x of 6.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { stringify } from "yaml";

import { definitionWithNodes } from "./definitions";

const ROOT = resolve(__dirname, "..");
const CDKTF = join(ROOT, "node_modules", ".bin", "cdktf");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median wall time in ms of `cdktf synth` with the given app command and definition. */
function timeSynth(label: string, app: string, definition?: string): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
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
    times.push(ms);
  }
  return median(times);
}

function main(): void {
  const defs = mkdtempSync(join(tmpdir(), "bench-defs-"));
  const file = (nodes: number) => {
    const path = join(defs, `cluster-${nodes}.yaml`);
    writeFileSync(path, stringify(definitionWithNodes(nodes)));
    return path;
  };
  const app = "node --import tsx main.ts";
  // One untimed run warms tsx's transpile cache so every timed run starts alike.
  timeSynth("warm-up", app, file(6));
  const floor = timeSynth("empty app", "node --import tsx bench/empty-app.ts");
  const results = [6, 60, 300].map((nodes) => ({
    nodes,
    ms: timeSynth(`${nodes} nodes`, app, file(nodes)),
  }));
  rmSync(defs, { recursive: true, force: true });

  const row = (label: string, ms: number) =>
    `${label.padEnd(14)} ${(ms / 1000).toFixed(2).padStart(7)} s`;
  process.stdout.write(`cdktf synth, median of ${RUNS} runs\n`);
  process.stdout.write(`${row("empty app", floor)}\n`);
  for (const r of results) process.stdout.write(`${row(`${r.nodes} nodes`, r.ms)}\n`);
  const six = results[0].ms;
  const big = results[2].ms;
  const ratioSix = six / floor;
  const ratioBig = big / six;
  process.stdout.write(
    `6 nodes / empty app: ${ratioSix.toFixed(2)}x (target <= 1.5x) ${ratioSix <= 1.5 ? "ok" : "MISSED"}\n` +
      `300 nodes / 6 nodes: ${ratioBig.toFixed(2)}x (target <= 2x) ${ratioBig <= 2 ? "ok" : "MISSED"}\n`,
  );
}

main();
