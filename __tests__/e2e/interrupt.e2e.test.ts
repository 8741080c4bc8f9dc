/**
 * A deploy that dies while Proxmox clones (kill -9, or Ctrl-C) leaves VMs that the vms
 * stack's state does not record. The next `npm run deploy` adopts them (scripts/adopt.ts,
 * `tofu import`) and converges: no duplicate VM, no error, nothing made twice, and every
 * VM it adopted is the same VM afterwards (vmgenid, MACs, disks), with nothing it got from
 * its template taken away.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

import type { E2eEnvironment, VmIdentity } from "./support/harness";
import {
  CDKTF_BIN,
  describeE2e,
  expectSuccess,
  homelabLocalTemplateSeed,
  run,
  startEnvironment,
} from "./support/harness";

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

/** Until Proxmox has finished every clone the dead deploy started (it goes on without it). */
async function untilUnlocked(env: E2eEnvironment): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (env.clusterVms().some((v) => v.lock !== undefined)) {
    if (Date.now() > deadline) throw new Error("a clone still locked after 120 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What the VMs are before the next deploy: identity and config keys, by name. */
function snapshot(env: E2eEnvironment) {
  const keys = Object.fromEntries(
    env.clusterVms().map((v) => [v.config.name, Object.keys(v.config).sort()]),
  );
  return { identities: env.vmIdentities(), keys };
}

/**
 * Every VM that was there is the same VM (same vmgenid, MACs and disk volumes), none was
 * deleted, and none lost a config key (what a clone gets from its template: the serial
 * console, the boot order...); the deploy only adds what it sets.
 */
function expectSameVms(
  env: E2eEnvironment,
  before: { identities: Record<string, VmIdentity>; keys: Record<string, string[]> },
  from: number,
) {
  expect(env.deletedVms(from)).toEqual([]);
  const after = env.vmIdentities();
  for (const [name, identity] of Object.entries(before.identities))
    expect({ name, identity: after[name] }).toEqual({ name, identity });
  const now = Object.fromEntries(env.clusterVms().map((v) => [v.config.name, v.config]));
  for (const [name, keys] of Object.entries(before.keys))
    expect({ name, lost: keys.filter((k) => k !== "lock" && !(k in now[name])) }).toEqual({
      name,
      lost: [],
    });
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

  it("kill -9 while Proxmox clones: adopted in place, the next cdktf deploy keeps every VM as it is", async () => {
    const env = await startEnvironment({
      definition: homelab(),
      seed: "homelab",
      // Slow clones, so that the deploy dies in the middle of them.
      double: { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100 },
    });
    try {
      await interruptedDeploy(env, "SIGKILL");
      const left = await adopt(env);
      // Each stranded VM is named, as the deploy made it.
      const adopted = left.stdout.split("\n").filter((l) => l.startsWith("adopted "));
      expect(adopted.length).toBeGreaterThan(0);
      expect(adopted[0]).toMatch(/^adopted kspray-\S+ \(VM pve0\d\/4\d{3}\)/);
      const before = snapshot(env);

      // What the next deploy does to an adopted VM: in-place updates at most (what the
      // interrupted deploy had not set yet), never a replacement.
      const plan = await env.plan("vms");
      expect(plan.exitCode).not.toBe(1);
      const replaced = plan.changes.filter(
        (c) => c.type === "proxmox_virtual_environment_vm" && c.actions.includes("delete"),
      );
      expect(replaced).toEqual([]);

      const from = env.double.requests().length;
      const deploy = expectSuccess(await env.cdktf(["deploy", "vms"]), "the deploy after");
      expect(deploy.output).not.toMatch(/already exists/);
      expectNoDuplicates(env, 6);
      expectSameVms(env, before, from);
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

  it("Ctrl-C while Proxmox clones: npm run deploy again adopts them and keeps every VM as it is", async () => {
    const env = await startEnvironment({
      definition: homelab(),
      seed: "homelab",
      double: { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100 },
    });
    try {
      await interruptedDeploy(env, "SIGINT");
      await untilUnlocked(env);
      const before = snapshot(env);
      expect(Object.keys(before.identities).length).toBeGreaterThan(0);

      const from = env.double.requests().length;
      const deploy = expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy");
      expect(deploy.output).toMatch(
        /^adopted kspray-\S+ \(VM pve0\d\/4\d{3}\): an interrupted deploy made it/m,
      );
      expect(deploy.output).not.toMatch(/already exists|[1-9]\d* destroyed|Destruction complete/);
      expectNoDuplicates(env, 6);
      expectSameVms(env, before, from);
      expect((await env.npmRun("diff", ["vms"])).status).toBe(0);
    } finally {
      await env.stop();
    }
  });

  it("kill -9 with the template on one host's local storage: the VMs left there are migrated to their host, not made anew", async () => {
    const definition = homelab();
    definition.proxmox.template = { ...definition.proxmox.template, storage: "local" };
    const env = await startEnvironment({
      definition,
      seed: homelabLocalTemplateSeed(),
      double: { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100 },
    });
    try {
      await interruptedDeploy(env, "SIGKILL");
      await untilUnlocked(env);
      // Cut off before their migration: cloned on the template's host, pve01.
      const stranded = env.clusterVms().filter((v) => v.node === "pve01");
      const before = snapshot(env);

      const from = env.double.requests().length;
      const deploy = expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy");
      expectNoDuplicates(env, 6);
      expect(new Set(env.clusterVms().map((v) => v.node))).toEqual(
        new Set(["pve01", "pve02", "pve03"]),
      );
      const moved = Object.entries(before.identities).filter(
        ([name, identity]) => identity.vm !== env.vmIdentities()[name].vm,
      );
      // Every VM that had to move was migrated by the adoption, and is the same VM.
      expect(moved.length).toBeGreaterThan(0);
      for (const [name, identity] of moved) {
        expect(stranded.map((v) => v.config.name)).toContain(name);
        expect(deploy.output).toContain(
          `adopt: migrating ${name} from ${identity.vm.split("/")[0]}`,
        );
      }
      const same = (i: VmIdentity) => ({ vmgenid: i.vmgenid, macs: i.macs, disks: i.disks });
      for (const [name, identity] of Object.entries(before.identities))
        expect({ name, ...same(env.vmIdentities()[name]) }).toEqual({ name, ...same(identity) });
      expect(env.deletedVms(from)).toEqual([]);
      expect((await env.npmRun("diff", ["vms"])).status).toBe(0);
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
      await untilUnlocked(env);
      const before = env.clusterVms().map((v) => [v.vmid, v.config.name]);
      await env.double.restart();
      expect(existsSync(stateFile)).toBe(true);
      expect(env.clusterVms().map((v) => [v.vmid, v.config.name])).toEqual(before);

      expect((await adopt(env)).stdout).toMatch(/^adopted kspray-/m);
      const kept = snapshot(env);
      const from = env.double.requests().length;
      expectSuccess(await env.cdktf(["deploy", "vms"]), "the deploy after the restart");
      expectNoDuplicates(env, 6);
      expectSameVms(env, kept, from);
      expect((await env.plan("vms")).exitCode).toBe(0);
    } finally {
      await env.stop();
    }
  });
});
