/**
 * A rollback of VMs that are Proxmox HA resources (lib/maintenance/rollback.ts) against the
 * Proxmox VE double: qemu-server turns their stop into `hastop` and their start into
 * `hastart`, which set the resource's requested state. After the rollback every VM must run
 * on the snapshot's disks, the control plane started first, and every resource must be
 * `started` again: a resource left `stopped` would keep its VM down, and the HA manager
 * would stop it again if anyone started it by hand.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { SavedStep } from "../../../lib/kubespray/saved-steps";
import { rollbackVms } from "../../../lib/maintenance/rollback";
import { VmSnapshots } from "../../../lib/proxmox/snapshots";
import type { NodeVm } from "../../../lib/proxmox/vms";
import { ProxmoxHttpsClient } from "../../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../../proxmox-double";
import type { SeedInput } from "../../../proxmox-double/seed";
import { data } from "../../proxmox-double/api";

// It talks to the Proxmox VE double over loopback and waits for its HA manager's rounds.
jest.setTimeout(120_000);

const vm = (vmid: number, name: string, node: string) => ({
  vmid,
  node,
  status: "running" as const,
  config: { name, memory: "2048", scsi0: `local-lvm:vm-${vmid}-disk-0,size=8G` },
});

const SEED: SeedInput = {
  nodes: [{ name: "pve01" }, { name: "pve02" }],
  storages: [{ id: "local-lvm", type: "lvmthin", sizeGiB: 500 }],
  vms: [vm(4100, "kspray-cp-1", "pve01"), vm(4200, "kspray-worker-1", "pve02")],
};

const VMS: NodeVm[] = [
  { name: "kspray-cp-1", vmid: 4100, node: "pve01" },
  { name: "kspray-worker-1", vmid: 4200, node: "pve02" },
];

describe("a rollback of VMs that Proxmox HA manages", () => {
  let double: ProxmoxDouble;
  let api: ProxmoxHttpsClient;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({
      seed: SEED,
      cloneDurationMs: 60,
      taskDurationMs: 50,
      agentDelayMs: 20,
      haRoundMs: 100,
    });
    api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
  });
  afterAll(() => double?.stop());

  const disk = (vmid: number) => {
    const v = double.vm(vmid)!;
    return double.cluster.store.get(v.node, String(v.config.scsi0).split(",")[0])!.dataId;
  };
  const resourceState = async (vmid: number) =>
    (await data(double, "GET", `cluster/ha/resources/vm%3A${vmid}`)).state as string;

  it("stops through HA, rolls back, starts the control plane first, and leaves every resource started", async () => {
    for (const v of VMS)
      await data(double, "POST", "cluster/ha/resources", { sid: `vm:${v.vmid}`, state: "started" });
    const snapshots = new VmSnapshots(api, { taskTimeoutMs: 60_000 });
    for (const v of VMS) await snapshots.create(v, "upgrade-cluster-20261205-120000", "e2e");
    const saved = Object.fromEntries(VMS.map((v) => [v.name, disk(v.vmid)]));
    // The upgrade writes to the disks.
    double.cluster.guestWrites(VMS.map((v) => v.vmid));
    for (const v of VMS) expect(disk(v.vmid)).not.toBe(saved[v.name]);

    const step: SavedStep = {
      snapshot: "upgrade-cluster-20261205-120000",
      playbook: "upgrade-cluster.yml",
      change: "upgrade-cluster.yml (Kubernetes 1.34.7 to 1.35.4)",
      description: "e2e",
      takenAt: "2026-12-05T12:00:00.000Z",
      vms: [
        { name: "kspray-cp-1", vmid: 4100, node: "pve01", role: "control-plane" },
        { name: "kspray-worker-1", vmid: 4200, node: "pve02", role: "worker" },
      ],
    };
    const log: string[] = [];
    await rollbackVms(
      {
        api,
        stateDir: mkdtempSync(join(tmpdir(), "rollback-ha-")),
        log: (l) => log.push(l),
        intervalMs: 50,
        timeoutMs: 60_000,
      },
      step,
      VMS,
    );

    expect(log).toEqual([
      "stopping kspray-cp-1 (HA), kspray-worker-1 (HA)",
      "rolling back kspray-cp-1, kspray-worker-1 to upgrade-cluster-20261205-120000",
      "starting kspray-cp-1 (HA)",
      "starting kspray-worker-1 (HA)",
    ]);
    // Every VM back on the snapshot's disk, running, its HA resource asking for it to run.
    for (const v of VMS) {
      expect({ vm: v.name, disk: disk(v.vmid) }).toEqual({ vm: v.name, disk: saved[v.name] });
      expect(await resourceState(v.vmid)).toBe("started");
    }
    expect(VMS.map((v) => double.vm(v.vmid)?.status)).toEqual(["running", "running"]);
  });
});
