/**
 * `npm run bench` (second part): the review loop. Wall time of `npm run diff`
 * (scripts/review.ts: one synth, the three stacks planned) against its floor, measured
 * side by side in one run: an empty app's synth plus a `tofu plan` of each of the three
 * synthesized stacks, one after the other. Target: the review within 2x of the floor.
 *
 * Against the Proxmox VE double (on loopback) with the homelab seed, and the homelab
 * definition without add-ons (planning Helm releases would fetch their charts).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { stringify } from "yaml";

import { ProxmoxDouble } from "../proxmox-double";
import { toolchainEnv } from "../scripts/processes";

import { definitionWithNodes } from "./definitions";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STACKS = ["vms", "cluster", "addons"];

/** Spawned without blocking: the double answers from this process's event loop. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done, fail) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", fail);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      // `tofu plan -detailed-exitcode` and the review exit 2 for changes.
      if (code === 0 || code === 2) done(ms);
      else fail(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out}`));
    });
  });
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

async function main(): Promise<void> {
  const double = await ProxmoxDouble.start({
    seed: join(ROOT, "proxmox-double", "seed.homelab.yaml"),
  });
  const work = mkdtempSync(join(tmpdir(), "bench-review-"));
  try {
    const definition = definitionWithNodes(6);
    const file = join(work, "cluster.yaml");
    writeFileSync(
      file,
      stringify({
        ...definition,
        proxmox: { ...definition.proxmox, endpoint: double.endpoint, insecure: true },
        addons: {},
      }),
    );
    const outdir = join(work, "out");
    const env = toolchainEnv({
      ...process.env,
      CLUSTER_CONFIG: file,
      STATE_DIR: join(work, "state"),
      CDKTF_OUTDIR: outdir,
      PROXMOX_VE_API_TOKEN: double.token,
      TMPDIR: work,
    });
    const review = () => run(process.execPath, ["--import", "tsx", "scripts/review.ts"], ROOT, env);
    const emptySynth = () =>
      run(process.execPath, ["--import", "tsx", "bench/empty-app.ts"], ROOT, {
        ...env,
        CDKTF_OUTDIR: join(work, "empty"),
      });
    const plan = (stack: string) =>
      run(
        "tofu",
        ["plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode"],
        join(outdir, "stacks", stack),
        env,
      );
    // Untimed: synthesizes and initializes every stack, and warms tsx's cache.
    await review();

    const floors: number[] = [];
    const reviews: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let floor = await emptySynth();
      for (const stack of STACKS) floor += await plan(stack);
      floors.push(floor);
      reviews.push(await review());
    }
    const f = median(floors);
    const r = median(reviews);
    const ratio = r / f;
    const s = (ms: number) => `${(ms / 1000).toFixed(2).padStart(7)} s`;
    process.stdout.write(
      `review loop (6 nodes, against the double), median of ${RUNS} runs\n` +
        `empty synth + 3 tofu plans ${s(f)}\n` +
        `npm run diff               ${s(r)}\n` +
        `review / floor: ${ratio.toFixed(2)}x (target <= 2x) ${ratio <= 2 ? "ok" : "MISSED"}\n`,
    );
  } finally {
    await double.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
