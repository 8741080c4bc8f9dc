/**
 * VM snapshots on the double, as qemu-server and pve-storage take, list, roll back and
 * delete them: each rule sent over HTTP, each refusal with Proxmox's message (the
 * request's status line, or the task's exit status where qemu-server checks in its
 * worker), the task model (UPIDs, locks while a task runs), and the config's `parent` and
 * snapshot sections as the API shows them.
 */
import { ProxmoxDouble } from "../../proxmox-double";
import { ALL_PRIVILEGES } from "../../proxmox-double/acl";
import type { SeedInput } from "../../proxmox-double/seed";

import { api, data, raw, waitTask } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const FAST = { cloneDurationMs: 200, taskDurationMs: 150, agentDelayMs: 20 } as const;
/**
 * For a test that looks at a task while it runs: longer than a request takes on a busy
 * machine (150 ms is not).
 */
const WATCHED = { cloneDurationMs: 2000, taskDurationMs: 2000 } as const;

const VM = {
  ostype: "l26",
  cores: 2,
  memory: "2048",
  agent: "enabled=1",
  scsihw: "virtio-scsi-single",
};

/** One VM per storage type and format, a GPU VM, a locked one and a template. */
const SEED: SeedInput = {
  nodes: [{ name: "pve01" }, { name: "pve02" }],
  storages: [
    { id: "local", type: "dir", content: ["images", "iso", "import"], sizeGiB: 500 },
    { id: "local-lvm", type: "lvmthin", sizeGiB: 500 },
    { id: "thick", type: "lvm", sizeGiB: 500 },
    { id: "local-zfs", type: "zfspool", sizeGiB: 500 },
    { id: "ceph", type: "rbd", sizeGiB: 500 },
    { id: "nas", type: "nfs", sizeGiB: 500 },
  ],
  vms: [
    {
      vmid: 100,
      node: "pve01",
      status: "running",
      config: {
        ...VM,
        name: "lvmthin-vm",
        scsi0: "local-lvm:vm-100-disk-0,size=8G",
        ide2: "local:100/vm-100-cloudinit.raw,media=cdrom",
      },
    },
    { vmid: 101, node: "pve01", config: { ...VM, scsi0: "thick:vm-101-disk-0,size=8G" } },
    { vmid: 102, node: "pve01", config: { ...VM, scsi0: "local:102/vm-102-disk-0.raw,size=8G" } },
    { vmid: 103, node: "pve01", config: { ...VM, scsi0: "local:103/vm-103-disk-0.qcow2,size=8G" } },
    { vmid: 104, node: "pve01", config: { ...VM, scsi0: "local-zfs:vm-104-disk-0,size=8G" } },
    { vmid: 105, node: "pve01", config: { ...VM, scsi0: "ceph:vm-105-disk-0,size=8G" } },
    { vmid: 106, node: "pve01", config: { ...VM, scsi0: "nas:106/vm-106-disk-0.qcow2,size=8G" } },
    {
      vmid: 107,
      node: "pve01",
      status: "running",
      config: {
        ...VM,
        machine: "q35",
        scsi0: "local-lvm:vm-107-disk-0,size=8G",
        hostpci0: "mapping=gpu,pcie=1",
      },
    },
    {
      vmid: 108,
      node: "pve01",
      status: "running",
      config: { ...VM, scsi0: "local-lvm:vm-108-disk-0,size=8G", "amd-sev": "type=std" },
    },
    {
      vmid: 109,
      node: "pve01",
      config: { ...VM, scsi0: "local-lvm:vm-109-disk-0,size=8G", lock: "backup" },
    },
    { vmid: 110, node: "pve01", config: { ...VM, scsi0: "local-lvm:vm-110-disk-0,size=8G" } },
    { vmid: 111, node: "pve01", config: { ...VM, scsi0: "local-lvm:vm-111-disk-0,size=8G" } },
    {
      vmid: 112,
      node: "pve01",
      status: "running",
      config: { ...VM, scsi0: "local-lvm:vm-112-disk-0,size=8G" },
    },
    {
      vmid: 9000,
      node: "pve01",
      config: { ...VM, template: 1, scsi0: "local-lvm:base-9000-disk-0,size=3G" },
    },
  ],
  pciMappings: [{ id: "gpu", map: [{ node: "pve01", path: "0000:01:00.0", id: "10de:2230" }] }],
};

const qm = (vmid: number, rest = "") => `nodes/pve01/qemu/${vmid}${rest}`;

describe("proxmox double: VM snapshots", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({ ...FAST, seed: SEED });
  });
  afterAll(() => double.stop());
  afterEach(() => {
    double.setAcl(undefined);
    double.setFaults({});
    double.setTiming(FAST);
  });

  /** POST snapshot; the task's status once it ended. */
  const snapshot = async (vmid: number, params: Record<string, string | number>) =>
    waitTask(double, await data(double, "POST", qm(vmid, "/snapshot"), params));
  const log = async (upid: string): Promise<string[]> =>
    (
      (await data(double, "GET", `nodes/pve01/tasks/${encodeURIComponent(upid)}/log`)) as Array<{
        t: string;
      }>
    ).map((l) => l.t);

  describe("taking one", () => {
    it("runs a qmsnapshot task that locks the VM, then lists it as the current config's parent", async () => {
      double.setTiming(WATCHED);
      const upid: string = await data(double, "POST", qm(100, "/snapshot"), {
        snapname: "before-upgrade",
        description: "upgrade-cluster.yml to v1.33",
        vmstate: 0,
      });
      expect(upid).toMatch(/^UPID:pve01:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmsnapshot:100:/);
      expect((await data(double, "GET", qm(100, "/status/current"))).lock).toBe("snapshot");
      expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK" });
      expect(await log(upid)).toEqual([
        "issuing guest-agent 'fs-freeze' command",
        "snapshotting 'drive-scsi0' (local-lvm:vm-100-disk-0)",
        "issuing guest-agent 'fs-thaw' command",
        "TASK OK",
      ]);

      const list = await data(double, "GET", qm(100, "/snapshot"));
      expect(list).toEqual([
        {
          name: "before-upgrade",
          snaptime: expect.any(Number),
          vmstate: 0,
          description: "upgrade-cluster.yml to v1.33",
        },
        {
          name: "current",
          digest: expect.stringMatching(/^[0-9a-f]{40}$/),
          running: 1,
          description: "You are here!",
          parent: "before-upgrade",
        },
      ]);
      const config = await data(double, "GET", qm(100, "/config"));
      expect(config.parent).toBe("before-upgrade");
      expect(config.lock).toBeUndefined();
      const section = await data(double, "GET", qm(100, "/snapshot/before-upgrade/config"));
      expect(section).toMatchObject({
        scsi0: "local-lvm:vm-100-disk-0,size=8G",
        memory: "2048",
        snaptime: list[0].snaptime,
        description: "upgrade-cluster.yml to v1.33",
      });
      expect(section.parent).toBeUndefined();
      expect(section.lock).toBeUndefined();
      expect(await data(double, "GET", qm(100, "/config"), { snapshot: "before-upgrade" })).toEqual(
        { ...section, digest: config.digest },
      );
      expect(await data(double, "GET", qm(100, "/snapshot/before-upgrade"))).toEqual([
        { cmd: "rollback" },
        { cmd: "config" },
      ]);
    });

    it("records the parent of each new snapshot", async () => {
      expect(await snapshot(100, { snapname: "second" })).toMatchObject({ exitstatus: "OK" });
      const list = await data(double, "GET", qm(100, "/snapshot"));
      expect(list.find((s: { name: string }) => s.name === "second").parent).toBe("before-upgrade");
      expect(list.find((s: { name: string }) => s.name === "current").parent).toBe("second");
    });

    it.each([
      ["1upgrade", "invalid format - invalid configuration ID '1upgrade'"],
      ["s", "invalid format - invalid configuration ID 's'"],
      ["up.grade", "invalid format - invalid configuration ID 'up.grade'"],
      ["a".repeat(41), "value may only be 40 characters long"],
    ])("refuses the name %s before anything runs", async (snapname, error) => {
      const res = await api(double, "POST", qm(110, "/snapshot"), { snapname });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({ snapname: error });
      expect(double.vm(110)?.snapshots).toEqual({});
    });

    it.each([
      ["current", "unable to use snapshot name 'current' (reserved name)"],
      ["Pending", "unable to use snapshot name 'pending' (reserved name)"],
    ])("refuses the reserved name %s", async (snapname, message) => {
      const res = await api(double, "POST", qm(110, "/snapshot"), { snapname });
      expect([res.status, res.statusMessage]).toEqual([500, message]);
    });

    it("fails the task for a name the VM already has, and keeps the snapshot", async () => {
      expect(await snapshot(100, { snapname: "second" })).toMatchObject({
        exitstatus: "snapshot name 'second' already used",
      });
      expect(Object.keys(double.vm(100)?.snapshots ?? {})).toEqual(["before-upgrade", "second"]);
      expect(double.vm(100)?.lock).toBeUndefined();
    });

    it.each([
      [103, "qcow2 on a directory storage"],
      [104, "ZFS"],
      [105, "Ceph RBD"],
      [106, "qcow2 on NFS"],
    ])("snapshots VM %i (%s)", async (vmid) => {
      expect(await snapshot(vmid, { snapname: "s1" })).toMatchObject({ exitstatus: "OK" });
      expect(Object.keys(double.vm(vmid)?.snapshots ?? {})).toEqual(["s1"]);
    });

    it.each([
      [101, "raw on thick LVM"],
      [102, "a raw file on a directory storage"],
    ])("fails VM %i's snapshot (%s): the storage cannot", async (vmid) => {
      const upid: string = await data(double, "POST", qm(vmid, "/snapshot"), { snapname: "s1" });
      expect(await waitTask(double, upid)).toMatchObject({
        exitstatus: "snapshot feature is not available",
      });
      expect(double.vm(vmid)).toMatchObject({ snapshots: {}, lock: undefined });
      expect(double.vm(vmid)?.config.parent).toBeUndefined();
    });

    it("snapshots a running GPU VM without its RAM", async () => {
      expect(await snapshot(107, { snapname: "disk-only", vmstate: 0 })).toMatchObject({
        exitstatus: "OK",
      });
    });

    it("fails a RAM snapshot of a running GPU VM as QEMU's migration blocker does, leaving nothing", async () => {
      double.setTiming(WATCHED);
      const volumes = double.state().volumes;
      const upid: string = await data(double, "POST", qm(107, "/snapshot"), {
        snapname: "with-ram",
        vmstate: 1,
      });
      expect((await data(double, "GET", qm(107, "/status/current"))).lock).toBe("snapshot");
      expect(await waitTask(double, upid)).toMatchObject({
        exitstatus:
          "VM 107 qmp command 'savevm-start' failed - 0000:01:00.0: VFIO migration is not supported in kernel",
      });
      expect(Object.keys(double.vm(107)?.snapshots ?? {})).toEqual(["disk-only"]);
      expect(double.vm(107)?.lock).toBeUndefined();
      expect(double.vm(107)?.config.parent).toBe("disk-only");
      expect(double.state().volumes).toEqual(volumes);
    });

    it("refuses a RAM snapshot of a VM with a non-migratable resource in the request", async () => {
      const res = await api(double, "POST", qm(108, "/snapshot"), { snapname: "s0", vmstate: 1 });
      expect([res.status, res.statusMessage]).toEqual([
        500,
        "Cannot live-migrate, snapshot (with RAM), or hibernate a VM with: amd-sev",
      ]);
      expect(await snapshot(108, { snapname: "s0", vmstate: 0 })).toMatchObject({
        exitstatus: "OK",
      });
    });

    it("saves the RAM of a running VM to a state volume, and ignores vmstate for a stopped one", async () => {
      expect(await snapshot(112, { snapname: "ram", vmstate: 1 })).toMatchObject({
        exitstatus: "OK",
      });
      const state = double.vm(112)?.snapshots.ram.vmstate;
      expect(state).toBe("local-lvm:vm-112-state-ram");
      expect(double.state().volumes).toContainEqual(
        expect.objectContaining({ volid: state, size: (2048 * 2 + 500) * 1024 ** 2 }),
      );
      expect(await snapshot(110, { snapname: "ram", vmstate: 1 })).toMatchObject({
        exitstatus: "OK",
      });
      const list = await data(double, "GET", qm(110, "/snapshot"));
      expect(list[0]).toMatchObject({ name: "ram", vmstate: 0 });
    });

    it("fails for a locked VM, a template, and while another snapshot task holds the lock", async () => {
      expect(await snapshot(109, { snapname: "s0" })).toMatchObject({
        exitstatus: "VM is locked (backup)",
      });
      expect(await snapshot(9000, { snapname: "s0" })).toMatchObject({
        exitstatus: "you can't take a snapshot if it's a template",
      });
      double.setTiming(WATCHED);
      const first: string = await data(double, "POST", qm(111, "/snapshot"), { snapname: "aa" });
      const second: string = await data(double, "POST", qm(111, "/snapshot"), { snapname: "bb" });
      const rollback: string = await data(double, "POST", qm(100, "/snapshot/second/rollback"));
      const rolling = await data(double, "POST", qm(100, "/snapshot"), { snapname: "during" });
      expect((await waitTask(double, second)).exitstatus).toBe("VM is locked (snapshot)");
      expect((await waitTask(double, first)).exitstatus).toBe("OK");
      expect((await waitTask(double, rolling)).exitstatus).toBe("VM is locked (rollback)");
      expect((await waitTask(double, rollback)).exitstatus).toBe("OK");
    });

    it("fails a snapshot of a VM being cloned (locked clone)", async () => {
      double.setTiming(WATCHED);
      const clone: string = await data(double, "POST", qm(9000, "/clone"), {
        newid: 300,
        full: 1,
      });
      expect(await snapshot(300, { snapname: "s0" })).toMatchObject({
        exitstatus: "VM is locked (clone)",
      });
      expect((await waitTask(double, clone)).exitstatus).toBe("OK");
    });

    it("takes back what it made when the task fails", async () => {
      double.setFaults({ failTasks: ["qmsnapshot"] });
      expect((await snapshot(110, { snapname: "faulty" })).exitstatus).toMatch(/injected fault/);
      expect(Object.keys(double.vm(110)?.snapshots ?? {})).toEqual(["ram"]);
      expect(double.vm(110)?.lock).toBeUndefined();
    });
  });

  describe("rolling back", () => {
    it("stops a running VM first, then restores its config, disk size and parent under a new vmgenid", async () => {
      await snapshot(112, { snapname: "base" });
      const before = double.vm(112)!;
      await data(double, "PUT", qm(112, "/config"), { memory: "4096", cores: 4 });
      await waitTask(
        double,
        await data(double, "PUT", qm(112, "/resize"), { disk: "scsi0", size: "+2G" }),
      );
      expect(double.vm(112)?.config.scsi0).toContain("size=10G");

      double.setTiming(WATCHED);
      const upid: string = await data(double, "POST", qm(112, "/snapshot/base/rollback"));
      expect(upid.split(":")[5]).toBe("qmrollback");
      const during = await data(double, "GET", qm(112, "/status/current"));
      expect([during.status, during.lock]).toEqual(["stopped", "rollback"]);
      expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK" });
      expect(await log(upid)).toContain("stopping VM 112 (timeout = 5 seconds)");

      const after = double.vm(112)!;
      expect(after.status).toBe("stopped");
      expect(after.lock).toBeUndefined();
      expect(after.config).toMatchObject({
        memory: "2048",
        cores: "2",
        scsi0: "local-lvm:vm-112-disk-0,size=8G",
        parent: "base",
      });
      expect(after.config.vmgenid).not.toBe(before.config.vmgenid);
      expect(after.config.net0 ?? "").toBe(before.config.net0 ?? "");
      expect(double.state().volumes).toContainEqual(
        expect.objectContaining({ volid: "local-lvm:vm-112-disk-0", size: 8 * 1024 ** 3 }),
      );
    });

    it("starts the VM after the rollback with start=1, which needs VM.PowerMgmt", async () => {
      double.setAcl({ "/": ALL_PRIVILEGES.filter((p) => p !== "VM.PowerMgmt") });
      const refused = await api(double, "POST", qm(112, "/snapshot/base/rollback"), { start: 1 });
      expect([refused.status, refused.statusMessage]).toEqual([
        403,
        "Permission check failed (/vms/112, VM.PowerMgmt)",
      ]);
      double.setAcl(undefined);
      const done = await waitTask(
        double,
        await data(double, "POST", qm(112, "/snapshot/base/rollback"), { start: 1 }),
      );
      expect(done.exitstatus).toBe("OK");
      expect(double.vm(112)?.status).toBe("running");
    });

    it("brings back what the disks held when the snapshot was taken, after the guest wrote to them", async () => {
      const volume = () => double.cluster.store.get("pve01", "local-lvm:vm-112-disk-0")?.dataId;
      expect(double.vm(112)?.status).toBe("running");
      await snapshot(112, { snapname: "content" });
      const taken = volume();
      const writes = await raw(
        double,
        "POST",
        "/_double/guest-writes",
        JSON.stringify({ vms: [112, 101] }),
        null,
        "application/json",
      );
      // VM 101 is stopped: its guest writes nothing; only disks are written.
      expect(writes.body).toEqual({ written: ["pve01/local-lvm:vm-112-disk-0"] });
      expect(volume()).not.toBe(taken);
      const done = await waitTask(
        double,
        await data(double, "POST", qm(112, "/snapshot/content/rollback"), { start: 1 }),
      );
      expect(done.exitstatus).toBe("OK");
      expect(volume()).toBe(taken);
    });

    it("rolls back with VM.Snapshot.Rollback alone, and refuses it without either privilege", async () => {
      const others = ALL_PRIVILEGES.filter(
        (p) => p !== "VM.Snapshot" && p !== "VM.Snapshot.Rollback",
      );
      double.setAcl({ "/": others });
      const res = await api(double, "POST", qm(110, "/snapshot/ram/rollback"));
      expect([res.status, res.statusMessage]).toEqual([
        403,
        "Permission check failed (/vms/110, VM.Snapshot|VM.Snapshot.Rollback)",
      ]);
      const create = await api(double, "POST", qm(110, "/snapshot"), { snapname: "x" });
      expect(create.statusMessage).toBe("Permission check failed (/vms/110, VM.Snapshot)");
      double.setAcl({ "/": [...others, "VM.Snapshot.Rollback"] });
      const done = await waitTask(
        double,
        await data(double, "POST", qm(110, "/snapshot/ram/rollback")),
      );
      expect(done.exitstatus).toBe("OK");
    });

    it("on ZFS rolls back only to the most recent snapshot; LVM-thin to any", async () => {
      await snapshot(104, { snapname: "s2" });
      const zfs = await waitTask(
        double,
        await data(double, "POST", qm(104, "/snapshot/s1/rollback")),
      );
      expect(zfs.exitstatus).toBe(
        "can't rollback, 's1' is not most recent snapshot on 'local-zfs:vm-104-disk-0'",
      );
      expect(double.vm(104)?.config.parent).toBe("s2");
      const thin = await waitTask(
        double,
        await data(double, "POST", qm(100, "/snapshot/before-upgrade/rollback")),
      );
      expect(thin.exitstatus).toBe("OK");
      expect(double.vm(100)?.config.parent).toBe("before-upgrade");
    });

    it("fails for a snapshot that does not exist, and for a locked VM", async () => {
      const missing = await waitTask(
        double,
        await data(double, "POST", qm(110, "/snapshot/nope/rollback")),
      );
      expect(missing.exitstatus).toBe("snapshot 'nope' does not exist");
      await data(double, "PUT", qm(103, "/config"), { lock: "backup" });
      const locked = await waitTask(
        double,
        await data(double, "POST", qm(103, "/snapshot/s1/rollback")),
      );
      expect(locked.exitstatus).toBe("VM is locked (backup)");
      double.cluster.vms.get(103)?.config.delete("lock");
    });
  });

  describe("deleting", () => {
    it("re-points the children and the current config to the deleted snapshot's parent", async () => {
      // 111: aa -> bb -> cc, the current config's parent cc.
      await snapshot(111, { snapname: "bb" });
      await snapshot(111, { snapname: "cc" });
      double.setTiming(WATCHED);
      const upid: string = await data(double, "DELETE", qm(111, "/snapshot/bb"));
      expect(upid.split(":")[5]).toBe("qmdelsnapshot");
      expect((await data(double, "GET", qm(111, "/status/current"))).lock).toBe("snapshot-delete");
      expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK" });
      expect(double.vm(111)?.snapshots.cc.parent).toBe("aa");
      expect(double.vm(111)?.config.parent).toBe("cc");

      await waitTask(double, await data(double, "DELETE", qm(111, "/snapshot/cc")));
      expect(double.vm(111)?.config.parent).toBe("aa");
      await waitTask(double, await data(double, "DELETE", qm(111, "/snapshot/aa")));
      expect(double.vm(111)).toMatchObject({ snapshots: {}, lock: undefined });
      expect(double.vm(111)?.config.parent).toBeUndefined();
      const list = await data(double, "GET", qm(111, "/snapshot"));
      expect(list).toEqual([expect.objectContaining({ name: "current" })]);
    });

    it("frees a snapshot's RAM state volume", async () => {
      await waitTask(double, await data(double, "DELETE", qm(112, "/snapshot/ram")));
      expect(double.state().volumes).not.toContainEqual(
        expect.objectContaining({ volid: "local-lvm:vm-112-state-ram" }),
      );
    });

    it("fails for a snapshot that does not exist, and for a locked VM", async () => {
      const missing = await waitTask(
        double,
        await data(double, "DELETE", qm(111, "/snapshot/nope")),
      );
      expect(missing.exitstatus).toBe("snapshot 'nope' does not exist");
      const locked = await waitTask(
        double,
        await data(double, "DELETE", qm(109, "/snapshot/nope")),
      );
      expect(locked.exitstatus).toBe("snapshot 'nope' does not exist");
      await data(double, "PUT", qm(103, "/config"), { lock: "backup" });
      const held = await waitTask(double, await data(double, "DELETE", qm(103, "/snapshot/s1")));
      expect(held.exitstatus).toBe("VM is locked (backup)");
      double.cluster.vms.get(103)?.config.delete("lock");
    });

    it("answers a snapshot config that does not exist with qemu-server's message", async () => {
      const res = await api(double, "GET", qm(111, "/snapshot/nope/config"));
      expect([res.status, res.statusMessage]).toEqual([500, "snapshot 'nope' does not exist"]);
    });
  });

  describe("what snapshots stand in the way of", () => {
    it("moving a snapshotted disk with delete, converting to a template, migrating local disks", async () => {
      const move = await api(double, "POST", qm(100, "/move_disk"), {
        disk: "scsi0",
        storage: "local-zfs",
        delete: 1,
      });
      expect([move.status, move.statusMessage]).toEqual([
        500,
        "you can't move a disk with snapshots and delete the source",
      ]);
      await waitTask(double, await data(double, "POST", qm(110, "/status/stop")));
      const template = await api(double, "POST", qm(110, "/template"));
      expect(template.statusMessage).toBe(
        "unable to create template, because VM contains snapshots",
      );
      const migrate = await waitTask(
        double,
        await data(double, "POST", qm(110, "/migrate"), { target: "pve02" }),
      );
      expect(migrate.exitstatus).toBe("migration aborted");
      expect(double.vm(110)).toMatchObject({ node: "pve01", lock: undefined });
    });
  });
});
