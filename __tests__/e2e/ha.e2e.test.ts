/**
 * Proxmox HA end to end: `npm run deploy -- vms` (real OpenTofu, the real bpg provider)
 * with `proxmox.ha` against the double of a Proxmox VE 9 cluster where HA was never used:
 * every node VM an HA resource, the control-plane VMs and the worker pool kept on
 * different hosts by rules Proxmox accepts only once its HA manager lists the hosts; a
 * re-plan with no change, also after a snapshot of every VM and after Proxmox moved a VM;
 * destroy leaving nothing; and only requests real Proxmox accepts, with the documented
 * role's Sys.Console and VM.Snapshot needed.
 */
import { readFileSync } from "node:fs";

import { parse } from "yaml";

import { VmSnapshots, snapshotName } from "../../lib/proxmox/snapshots";
import { HA_PRIVILEGES, SNAPSHOT_PRIVILEGES } from "../../preflight/privileges";
import { ProxmoxHttpsClient } from "../../preflight/proxmox-api";
import type { SeedInput } from "../../proxmox-double/seed";
import { homelab } from "../fixtures/definitions";

import type { E2eEnvironment } from "./support/harness";
import { SEEDS, describeE2e, expectSuccess, startEnvironment } from "./support/harness";

const CONTROL_PLANE = ["vm:4100", "vm:4101", "vm:4102"];
const WORKERS = ["vm:4200", "vm:4201", "vm:4202"];

/** The homelab seed as Proxmox VE 9, its HA manager never active. */
function seed(): SeedInput {
  const s = parse(readFileSync(SEEDS.homelab, "utf8")) as SeedInput;
  return { ...s, version: "9.1.1", haManagerActive: false };
}

interface HaResource {
  readonly sid: string;
  readonly state?: string;
}
interface HaRule {
  readonly rule: string;
  readonly type: string;
  readonly affinity?: string;
  readonly resources: string;
}

describeE2e("vms stack end to end: Proxmox HA", () => {
  let env: E2eEnvironment;

  beforeAll(async () => {
    const definition = homelab();
    definition.proxmox.ha = { enabled: true, keepApart: ["worker"] };
    env = await startEnvironment({ definition, seed: seed(), double: { haRoundMs: 3000 } });
  });
  afterAll(() => env.stop());

  const resources = (): HaResource[] =>
    [...env.double.cluster.ha.resources].map(([sid, o]) => ({ sid, state: o.get("state") }));
  const rules = (): HaRule[] =>
    [...env.double.cluster.ha.rules]
      .map(([rule, o]) => ({
        rule,
        type: o.get("type") ?? "",
        affinity: o.get("affinity"),
        resources: o.get("resources") ?? "",
      }))
      .sort((a, b) => a.rule.localeCompare(b.rule));

  it("makes every node VM an HA resource and keeps the control plane and the workers apart", async () => {
    const deploy = expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms");
    expect(deploy.output).toContain("waiting for Proxmox's HA manager to list pve01, pve02, pve03");
    expect(resources().sort((a, b) => a.sid.localeCompare(b.sid))).toEqual(
      [...CONTROL_PLANE, ...WORKERS].map((sid) => ({ sid, state: "started" })),
    );
    expect(rules()).toEqual([
      {
        rule: "kspray-control-plane-apart",
        type: "resource-affinity",
        affinity: "negative",
        resources: CONTROL_PLANE.join(","),
      },
      {
        rule: "kspray-pool-worker-apart",
        type: "resource-affinity",
        affinity: "negative",
        resources: WORKERS.join(","),
      },
    ]);
    // Proxmox accepted each rule the first time: the wait came before them.
    const posts = env.double
      .requests()
      .filter((r) => r.method === "POST" && r.path === "/cluster/ha/rules");
    expect(posts.map((r) => r.status)).toEqual([200, 200]);
    // The three control-plane VMs are on three hosts, and Proxmox manages them.
    const cp = env.clusterVms().filter((v) => v.config.name.startsWith("kspray-cp-"));
    expect(new Set(cp.map((v) => v.node)).size).toBe(3);
    for (const vm of cp)
      expect(env.double.cluster.statusCurrent(vm.node, vm.vmid).ha).toMatchObject({ managed: 1 });
  });

  it("re-plans with no change", async () => {
    const review = await env.npmRun("diff", ["vms"]);
    expect({ status: review.status, stdout: review.stdout }).toEqual({
      status: 0,
      stdout: expect.stringMatching(/^vms: no changes$/m),
    });
  });

  it("re-plans with no change after a snapshot of every node VM (its config then names a parent)", async () => {
    const snapshots = new VmSnapshots(
      new ProxmoxHttpsClient({
        endpoint: env.double.endpoint,
        token: env.double.token,
        insecure: true,
      }),
      { taskTimeoutMs: 60_000 },
    );
    const name = snapshotName("upgrade-cluster", new Date());
    for (const vm of env.clusterVms())
      await snapshots.create({ node: vm.node, vmid: vm.vmid }, name, "e2e: before an upgrade");
    expect(env.clusterVms().map((v) => v.config.parent)).toEqual(Array(6).fill(name));
    const review = await env.npmRun("diff", ["vms"]);
    expect({ status: review.status, stdout: review.stdout }).toEqual({
      status: 0,
      stdout: expect.stringMatching(/^vms: no changes$/m),
    });
  });

  it("re-plans with no change after Proxmox moved a worker's VM to another host", async () => {
    // What the HA manager does on a failover: the VM, its config and its disks on another
    // host (here without going through the API, which has no failure to react to).
    const vm = env.double.cluster.vms.get(4200);
    if (!vm) throw new Error("no VM 4200");
    const from = vm.node;
    const to = ["pve01", "pve02", "pve03"].find((h) => h !== from) ?? "pve01";
    for (const vol of [...env.double.cluster.volumes.values()].filter(
      (v) => v.vmid === 4200 && v.scope === from,
    )) {
      env.double.cluster.store.free(vol);
      env.double.cluster.store.put({ ...vol, scope: to });
    }
    vm.node = to;
    const review = await env.npmRun("diff", ["vms"]);
    expect({ status: review.status, stdout: review.stdout }).toEqual({
      status: 0,
      stdout: expect.stringMatching(/^vms: no changes$/m),
    });
  });

  it("needed the documented role's Sys.Console, and its VM.Snapshot for the snapshots", () => {
    const needed = env.privilegesNeeded();
    expect([...HA_PRIVILEGES, ...SNAPSHOT_PRIVILEGES].filter((p) => !needed.has(p))).toEqual([]);
  });

  it("destroys every rule, HA resource and VM", async () => {
    expectSuccess(await env.npmRun("destroy", ["vms"]), "npm run destroy -- vms");
    expect(rules()).toEqual([]);
    expect(resources()).toEqual([]);
    expect(env.clusterVms()).toEqual([]);
    // No disk of the cluster's VMs is left, snapshotted or not.
    const ours = (env.double.state().volumes as Array<{ vmid: number }>).filter(
      (v) => v.vmid >= 4100 && v.vmid < 4300,
    );
    expect(ours).toEqual([]);
    expect(env.state("vms")?.resources ?? []).toEqual([]);
  });

  it("sent only requests real Proxmox accepts", () => {
    expect(env.trafficViolations()).toEqual([]);
  });
});
