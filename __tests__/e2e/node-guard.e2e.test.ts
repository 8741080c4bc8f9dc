/**
 * No change replaces a node's VM behind the cluster's back (lib/node-guard.ts), end to
 * end: the homelab cluster deployed against the Proxmox double (Kubespray in print mode,
 * its run recorded, so that the six nodes are the cluster's), then changes that the
 * provider can only make by deleting a node's VM, or by swapping its disk for a blank one.
 * For each: what `npm run diff` says, that `npm run deploy` refuses it (exit 2, a line per
 * node naming what causes it), that `cdktf deploy` run directly fails on the VMs'
 * `prevent_destroy`, and that every VM is the same VM afterwards. A new template or image
 * is in template.e2e.test.ts, an adoption after an interrupted deploy in
 * interrupt.e2e.test.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { readRecord } from "../../lib/kubespray/record";
import { judge, nodeVmLosses } from "../../lib/node-guard";
import { planJson } from "../../scripts/node-guard";
import { describePlan } from "../../scripts/review";
import type { Definition } from "../fixtures/definitions";
import { homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

import type { E2eEnvironment, VmIdentity } from "./support/harness";
import { describeE2e, expectSuccess, oneLine, run, startEnvironment } from "./support/harness";

const NODE_GUARD = join(REPO_ROOT, "scripts", "node-guard.ts");
const WORKERS = ["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"];

describeE2e("no change replaces a node's VM behind the cluster's back", () => {
  let env: E2eEnvironment;
  let deployed: Definition;
  /** The VMs as the deploy made them. */
  let made: Record<string, VmIdentity>;

  /** Requests that changed one of the cluster's VMs since the `from`-th. */
  const touched = (from: number) => {
    const ids = new Set(env.clusterVms().map((v) => String(v.vmid)));
    return env.double
      .requests()
      .slice(from)
      .filter((r) => r.method !== "GET" && ids.has(/\/qemu\/(\d+)/.exec(r.path)?.[1] ?? ""))
      .map((r) => `${r.method} ${r.path}`);
  };

  beforeAll(async () => {
    const definition = homelab();
    // Kubespray's commands go to a script; its last line records the run, as if it ran.
    definition.kubespray = { ...definition.kubespray, mode: "print" };
    definition.addons = {};
    env = await startEnvironment({ definition, seed: "homelab" });
    deployed = env.definition;
    expectSuccess(await env.cdktf(["deploy", "vms", "cluster"]), "cdktf deploy vms cluster");
    const script = readFileSync(join(env.stateDir, "kubespray-commands.sh"), "utf8");
    const record = script.trim().split("\n").pop() ?? "";
    expectSuccess(
      await run("sh", ["-c", record], { cwd: REPO_ROOT, env: env.env(), timeoutMs: 60_000 }),
      "recording the Kubespray run",
    );
    expect(readRecord(env.stateDir)?.hosts.map((h) => h.name)).toHaveLength(6);
    made = env.vmIdentities();
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("a pool's hosts reordered so that its nodes would move: named, refused, and every VM kept", async () => {
    const moved = env.definition;
    moved.nodePools[1].hosts = ["pve02", "pve03", "pve01"];
    env.writeDefinition(moved);
    const from = env.double.requests().length;

    const review = await env.npmRun("diff", ["vms"]);
    expect(review.status).toBe(1);
    const lines = review.stdout.split("\n");
    expect(lines).toContain("vms: changes that npm run deploy refuses: they take nodes' VMs away");
    for (const [name, vm] of WORKERS.map((n) => [n, made[n].vm] as const)) {
      const at = lines.findIndex((l) => l.includes(`(${name})`));
      expect(lines[at]).toMatch(/^ {2}-\/\+ proxmox_virtual_environment_vm\.worker-\d_\w+ \(/);
      const [host] = vm.split("/");
      const to = moved.nodePools[1].hosts[["pve01", "pve02", "pve03"].indexOf(host)];
      expect(lines[at + 1]).toBe(
        `    refused: its VM would be deleted and cloned anew (node_name: "${host}" → "${to}")`,
      );
    }

    const deploy = await env.npmRun("deploy", ["vms", "cluster"]);
    expect({ status: deploy.status, cdktf: /Apply complete|Plan:/.test(deploy.output) }).toEqual({
      status: 2,
      cdktf: false,
    });
    const refused = deploy.stderr.split("\n").filter((l) => / \(VM pve0\d\/\d+\): /.test(l));
    expect(refused.map((l) => l.split(" ")[0]).sort()).toEqual(WORKERS);
    for (const line of refused)
      expect(line).toMatch(
        /^kspray-worker-\d \(VM pve0\d\/42\d\d\): its VM would be deleted and cloned anew \(node_name: "pve0\d" → "pve0\d"\), without draining it or removing it from Kubernetes first; keep proxmox\.hosts and the pool's hosts as they were, so that the node stays on its host; a node of the cluster is only rebuilt through its removal/,
      );

    // cdktf itself, without the npm scripts: the VMs' prevent_destroy stops the plan.
    const direct = await env.cdktf(["deploy", "vms"]);
    expect(direct.status).not.toBe(0);
    // (cdktf's own output cuts tofu's error message short; the plan stops before it applies.)
    expect(oneLine(direct.output)).toContain(
      "OpenTofu planned the following actions, but then encountered a problem",
    );
    expect(oneLine(direct.output)).toMatch(/node_name = "pve0\d" -> "pve0\d" # forces replacement/);

    expect(env.deletedVms(from)).toEqual([]);
    expect(touched(from)).toEqual([]);
    expect(env.vmIdentities()).toEqual(made);

    env.writeDefinition(deployed);
    expect((await env.plan("vms")).exitCode).toBe(0);
  });

  it("a new version that puts the disk on another interface: named, refused, and the disk kept", async () => {
    env.writeDefinition(deployed);
    await env.synth();
    const file = join(env.stackDir("vms"), "cdk.tf.json");
    const stack = JSON.parse(readFileSync(file, "utf8")) as {
      resource: {
        proxmox_virtual_environment_vm: Record<
          string,
          { name: string; disk: { interface: string }[] }
        >;
      };
    };
    const [address, vm] = Object.entries(stack.resource.proxmox_virtual_environment_vm).find(
      ([, v]) => v.name === "kspray-worker-2",
    )!;
    vm.disk[0].interface = "virtio0";
    writeFileSync(file, JSON.stringify(stack));
    const from = env.double.requests().length;

    // What the review says about this plan (the same plan, from real OpenTofu).
    const dir = env.stackDir("vms");
    expectSuccess(await env.tofu("vms", ["init", "-input=false", "-no-color"]), "tofu init");
    const planned = await planJson(dir, "disk.tfplan", env.env());
    expect({ status: planned.status, output: planned.output }).toEqual({
      status: 2,
      output: expect.any(String),
    });
    const losses = nodeVmLosses(planned.plan!);
    const verdict = judge(losses, [], new Set(readRecord(env.stateDir)?.hosts.map((h) => h.name)));
    expect(describePlan(planned.plan!, verdict)).toEqual([
      `~ proxmox_virtual_environment_vm.${address} (kspray-worker-2)`,
      '  refused: its disk would be detached and a blank one added (disk interface: ["scsi0"] → ["virtio0"])',
    ]);

    // What npm run deploy does with it, after the adoption synthesized the stack.
    const guard = await run(process.execPath, ["--import", "tsx", NODE_GUARD], {
      cwd: REPO_ROOT,
      env: env.env({ CDKTF_OUTDIR: env.outDir }),
      timeoutMs: 300_000,
    });
    expect(guard.status).toBe(2);
    expect(guard.stderr.trim()).toBe(
      `kspray-worker-2 (VM ${made["kspray-worker-2"].vm}): its disk would be detached and a blank one added (disk interface: ["scsi0"] → ["virtio0"]), without draining it or removing it from Kubernetes first; keep the disk layout the VM was made with (this version of the tool changed it): a deploy never swaps a node's disk`,
    );

    expect(touched(from)).toEqual([]);
    expect(env.vmIdentities()).toEqual(made);
  });

  it("npm run destroy still tears every node's VM down", async () => {
    expectSuccess(await env.npmRun("destroy", ["addons", "cluster", "vms"]), "npm run destroy");
    expect(env.clusterVms()).toEqual([]);
    expect(env.state("vms")?.resources ?? []).toEqual([]);
  });
});
