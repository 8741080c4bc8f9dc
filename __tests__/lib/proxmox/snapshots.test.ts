/**
 * The typed snapshot client against the Proxmox VE double (loopback): create with a
 * description and no RAM, list, prune to the last N of ours, roll back, the refusals as
 * SnapshotErrors with Proxmox's message, and the snapshot rule agreeing with what the
 * double (qemu-server's rules) does for each kind of storage.
 */
import { snapshotBlockers } from "../../../lib/proxmox/snapshot-support";
import {
  SNAPSHOT_NAME,
  SnapshotError,
  VmSnapshots,
  snapshotName,
} from "../../../lib/proxmox/snapshots";
import { ProxmoxHttpsClient } from "../../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../../proxmox-double";
import type { SeedInput } from "../../../proxmox-double/seed";
import { documentedAcl } from "../../e2e/support/role";

const disk = (vmid: number, file: string) => ({
  vmid,
  node: "pve01",
  status: "running" as const,
  config: { name: `vm${vmid}`, memory: "2048", scsi0: `${file},size=8G` },
});

const SEED: SeedInput = {
  nodes: [{ name: "pve01" }],
  storages: [
    { id: "local", type: "dir", content: ["images", "iso"], sizeGiB: 500 },
    { id: "local-lvm", type: "lvmthin", sizeGiB: 500 },
    { id: "thick", type: "lvm", sizeGiB: 500 },
    { id: "local-zfs", type: "zfspool", sizeGiB: 500 },
  ],
  vms: [
    disk(101, "local-lvm:vm-101-disk-0"),
    disk(102, "local:102/vm-102-disk-0.raw"),
    disk(103, "local:103/vm-103-disk-0.qcow2"),
    disk(104, "thick:vm-104-disk-0"),
    disk(105, "local-zfs:vm-105-disk-0"),
    {
      vmid: 106,
      node: "pve01",
      status: "running",
      config: {
        name: "gpu",
        machine: "q35",
        bios: "ovmf",
        scsi0: "local:106/vm-106-disk-0.qcow2,size=8G",
        efidisk0: "local:106/vm-106-disk-1.raw,efitype=4m,size=528K",
        hostpci0: "mapping=gpu,pcie=1",
      },
    },
  ],
  pciMappings: [{ id: "gpu", map: [{ node: "pve01", path: "0000:01:00.0", id: "10de:2230" }] }],
};

jest.setTimeout(90_000);

describe("VmSnapshots against the Proxmox VE double", () => {
  let double: ProxmoxDouble;
  let snapshots: VmSnapshots;
  const vm = { node: "pve01", vmid: 101 };

  beforeAll(async () => {
    double = await ProxmoxDouble.start({ taskDurationMs: 50, agentDelayMs: 20, seed: SEED });
    snapshots = new VmSnapshots(
      new ProxmoxHttpsClient({ endpoint: double.endpoint, token: double.token, insecure: true }),
      { taskTimeoutMs: 10_000 },
    );
  });
  afterAll(() => double.stop());

  it("names a snapshot after the step and the time, as Proxmox takes it", () => {
    const at = new Date(Date.UTC(2026, 7, 21, 15, 30, 5));
    expect(snapshotName("upgrade-cluster.yml", at)).toBe("upgrade-cluster-20260821-153005");
    expect(snapshotName("1 Control Plane!", at)).toBe("control-plane-20260821-153005");
    const long = snapshotName("a-step-with-a-very-long-name-indeed-and-more", at);
    expect(long.length).toBeLessThanOrEqual(40);
    expect(long).toMatch(SNAPSHOT_NAME);
  });

  it("takes a disk-only snapshot with its description and lists it", async () => {
    const name = snapshotName("upgrade-cluster", new Date(Date.UTC(2026, 0, 1)));
    await snapshots.create(vm, name, "before upgrade-cluster.yml: Kubernetes v1.33.2 to v1.34.0");
    expect(await snapshots.list(vm)).toEqual([
      {
        name,
        description: "before upgrade-cluster.yml: Kubernetes v1.33.2 to v1.34.0",
        snaptime: expect.any(Number),
        vmstate: false,
      },
    ]);
    const request = double
      .requests()
      .find((r) => r.method === "POST" && r.template === "/nodes/{node}/qemu/{vmid}/snapshot");
    expect(request?.params).toMatchObject({ vmstate: "0", snapname: name });
  });

  it("keeps the last N of ours and never deletes a user's own", async () => {
    await snapshots.create(vm, "by-hand", "the user's own");
    for (const day of [2, 3, 4])
      await snapshots.create(vm, snapshotName("scale", new Date(Date.UTC(2026, 0, day))), "s");
    const deleted = await snapshots.prune(vm, 2);
    expect(deleted).toEqual(["upgrade-cluster-20260101-000000", "scale-20260102-000000"]);
    expect((await snapshots.list(vm)).map((s) => s.name)).toEqual([
      "by-hand",
      "scale-20260103-000000",
      "scale-20260104-000000",
    ]);
  });

  it("rolls back, leaving the VM stopped unless asked to start it", async () => {
    const before = double.vm(101)?.config.memory;
    await double.cluster.updateConfig("pve01", 101, { memory: "4096" }, false);
    await snapshots.rollback(vm, "scale-20260104-000000");
    expect(double.vm(101)).toMatchObject({ status: "stopped", config: { memory: before } });
    await snapshots.rollback(vm, "scale-20260103-000000", { start: true });
    expect(double.vm(101)?.status).toBe("running");
  });

  it("fails with Proxmox's message where Proxmox refuses", async () => {
    const refused = snapshots.create({ node: "pve01", vmid: 102 }, "before", "x");
    await expect(refused).rejects.toBeInstanceOf(SnapshotError);
    await expect(refused).rejects.toThrow(
      "create of snapshot before of VM 102 on pve01 failed: snapshot feature is not available",
    );
    await expect(snapshots.remove(vm, "nope")).rejects.toThrow(
      "delete of snapshot nope of VM 101 on pve01 failed: snapshot 'nope' does not exist",
    );
    await expect(snapshots.create(vm, "9lives", "x")).rejects.toThrow(/not a name Proxmox takes/);
  });

  it("works with the documented role, whose VM.Snapshot each call needs", async () => {
    const ref = { node: "pve01", vmid: 105 };
    try {
      double.setAcl(documentedAcl());
      await snapshots.create(ref, "role-check", "x");
      await snapshots.rollback(ref, "role-check");
      await snapshots.remove(ref, "role-check");
      double.setAcl(documentedAcl(["VM.Snapshot"]));
      const refused = "Permission check failed (/vms/105, VM.Snapshot";
      await expect(snapshots.create(ref, "role-check", "x")).rejects.toThrow(refused);
      await expect(snapshots.rollback(ref, "agreement")).rejects.toThrow(refused);
      await expect(snapshots.remove(ref, "agreement")).rejects.toThrow(refused);
    } finally {
      double.setAcl(undefined);
    }
  });

  it.each([
    [101, "LVM-thin"],
    [102, "a raw file on a directory storage"],
    [103, "qcow2 on a directory storage"],
    [104, "raw on thick LVM"],
    [105, "ZFS"],
    [106, "a GPU VM whose EFI disk is raw on a directory storage"],
  ])("agrees with Proxmox (the double) on VM %i, %s", async (vmid, _what) => {
    const ref = { node: "pve01", vmid };
    const blockers = snapshotBlockers(await snapshots.subject(ref));
    const taken = await snapshots.create(ref, "agreement", "x").then(
      () => true,
      (e: unknown) => {
        if (!(e instanceof SnapshotError)) throw e;
        expect(e.reason).toBe("snapshot feature is not available");
        return false;
      },
    );
    expect(blockers.length === 0).toBe(taken);
  });
});
