/**
 * `npm run bench` (second part): the review loop. Wall time of `npm run diff`
 * (scripts/review.ts, started as npm runs it: one synth, the three stacks planned) against
 * its floor, measured side by side: each round runs an empty cdktf app's synth (compiled,
 * bench/empty-app.ts) plus a `tofu plan` of each of the three synthesized stacks, one after
 * the other, then the review; the ratio is taken round by round. Target: the review within
 * 1.5x of the floor.
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
import { median } from "./synth";

const ROOT = resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
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
    // As `npm run diff` starts it (the app compiled by bench/synth.ts's build).
    const review = () =>
      run(
        process.execPath,
        [join("scripts", "launch.js"), join("scripts", "review.ts")],
        ROOT,
        env,
      );
    const emptySynth = () =>
      run(process.execPath, [join("dist", "app", "bench", "empty-app.js")], ROOT, {
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
    // Untimed: synthesizes and initializes every stack.
    await review();

    const floors: number[] = [];
    const reviews: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let floor = await emptySynth();
      for (const stack of STACKS) floor += await plan(stack);
      floors.push(floor);
      reviews.push(await review());
    }
    const ratios = reviews.map((r, i) => r / floors[i]);
    const ratio = median(ratios);
    const s = (ms: number) => `${(ms / 1000).toFixed(2).padStart(7)} s`;
    process.stdout.write(
      `review loop (6 nodes, against the double), ${RUNS} rounds side by side, medians\n` +
        `empty synth + 3 tofu plans ${s(median(floors))}\n` +
        `npm run diff               ${s(median(reviews))}\n` +
        `review / floor: ${ratio.toFixed(2)}x (rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}; ` +
        `target <= 1.5x) ${ratio <= 1.5 ? "ok" : "MISSED"}\n`,
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
