/**
 * A deploy that dies while Proxmox clones (kill -9, or Ctrl-C) leaves VMs that the vms
 * stack's state does not record. The next `npm run deploy` adopts them (scripts/adopt.ts,
 * `tofu import`) and converges: no duplicate VM, no error, nothing made twice.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

import type { E2eEnvironment } from "./support/harness";
import { CDKTF_BIN, describeE2e, expectSuccess, run, startEnvironment } from "./support/harness";

const ADOPT = join(REPO_ROOT, "scripts", "adopt.ts");

/** Starts `cdktf deploy vms` and sends `signal` to it (its whole process group) mid-clone. */
async function interruptedDeploy(env: E2eEnvironment, signal: NodeJS.Signals): Promise<void> {
  const child = spawn(
    CDKTF_BIN,
    [
      "deploy",
      "vms",
      "--auto-approve",
      "--no-color",
      "--skip-provider-lock",
      "--output",
      env.outDir,
    ],
    { cwd: REPO_ROOT, env: env.env(), stdio: "ignore", detached: true },
  );
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  // Until the double holds a clone of ours that Proxmox is still making.
  const deadline = Date.now() + 120_000;
  while (!env.clusterVms().some((v) => v.lock === "clone" || v.lock === "create")) {
    if (Date.now() > deadline) throw new Error("no clone started within 120 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(-child.pid!, signal);
  await exited;
}

async function adopt(env: E2eEnvironment) {
  return expectSuccess(
    await run(process.execPath, ["--import", "tsx", ADOPT], {
      cwd: REPO_ROOT,
      env: env.env({ CDKTF_OUTDIR: env.outDir }),
      timeoutMs: 300_000,
    }),
    "adopt",
  );
}

/** Every VM of the cluster once, by name and by ID. */
function expectNoDuplicates(env: E2eEnvironment, count: number) {
  const vms = env.clusterVms();
  const names = vms.map((v) => v.config.name);
  expect(new Set(names).size).toBe(names.length);
  expect(new Set(vms.map((v) => v.vmid)).size).toBe(vms.length);
  expect(vms).toHaveLength(count);
}

describeE2e("an interrupted deploy converges", () => {
  jest.setTimeout(600_000);

  it.each<[string, NodeJS.Signals]>([
    ["kill -9", "SIGKILL"],
    ["Ctrl-C", "SIGINT"],
  ])("%s while Proxmox clones: the next deploy adopts the VMs left behind", async (_, signal) => {
    const env = await startEnvironment({
      definition: homelab(),
      seed: "homelab",
      // Slow clones, so that the deploy dies in the middle of them.
      double: { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100 },
    });
    try {
      await interruptedDeploy(env, signal);
      const left = await adopt(env);
      // Each stranded VM is named, as the deploy made it.
      const adopted = left.stdout.split("\n").filter((l) => l.startsWith("adopted "));
      expect(adopted.length).toBeGreaterThan(0);
      expect(adopted[0]).toMatch(/^adopted kspray-\S+ \(VM pve0\d\/4\d{3}\)/);

      const deploy = expectSuccess(await env.cdktf(["deploy", "vms"]), "the deploy after");
      expect(deploy.output).not.toMatch(/already exists/);
      expectNoDuplicates(env, 6);
      expect((await env.plan("vms")).exitCode).toBe(0);
      // The token reaches the provider from the environment only: never the synthesized
      // stack, nor the state an import or a deploy wrote.
      const secret = env.double.token.split("=")[1];
      for (const file of [
        join(env.stackDir("vms"), "cdk.tf.json"),
        join(env.stateDir, "vms.tfstate"),
      ])
        expect({ file, leaked: readFileSync(file, "utf8").includes(secret) }).toEqual({
          file,
          leaked: false,
        });
    } finally {
      await env.stop();
    }
  });

  it("kill -9 while Proxmox clones, then Proxmox restarted with its state: the next deploy converges", async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), "double-state-")), "state.json");
    const env = await startEnvironment({
      definition: homelab(),
      seed: "homelab",
      double: { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100, stateFile },
    });
    try {
      await interruptedDeploy(env, "SIGKILL");
      // The clones Proxmox was making finish before the host goes down.
      while (env.clusterVms().some((v) => v.lock !== undefined))
        await new Promise((r) => setTimeout(r, 200));
      const before = env.clusterVms().map((v) => [v.vmid, v.config.name]);
      await env.double.restart();
      expect(existsSync(stateFile)).toBe(true);
      expect(env.clusterVms().map((v) => [v.vmid, v.config.name])).toEqual(before);

      expect((await adopt(env)).stdout).toMatch(/^adopted kspray-/m);
      expectSuccess(await env.cdktf(["deploy", "vms"]), "the deploy after the restart");
      expectNoDuplicates(env, 6);
      expect((await env.plan("vms")).exitCode).toBe(0);
    } finally {
      await env.stop();
    }
  });
});
