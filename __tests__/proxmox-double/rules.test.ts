/**
 * Handler rules of qemu-server (`PVE/API2/Qemu.pm`, `PVE/QemuServer.pm`) beyond the
 * parameter schema: each test sends what real Proxmox VE refuses and asserts the refusal
 * (status and message, or the task's exit status).
 */
import { ProxmoxDouble } from "../../proxmox-double";
import type { SeedInput } from "../../proxmox-double/seed";

import { api, data, waitTask } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const FAST = { cloneDurationMs: 60, taskDurationMs: 20, agentDelayMs: 50 } as const;

const TEMPLATE = {
  name: "debian-13-cloud",
  template: 1,
  ostype: "l26",
  cores: 2,
  memory: "2048",
  scsihw: "virtio-scsi-single",
  net0: "virtio=BC:24:11:90:00:00,bridge=vmbr0",
  agent: "enabled=1",
};

/** Two hosts of 4 CPUs; template 9000 on shared NFS, template 9100 on pve01's local-lvm. */
const SEED: SeedInput = {
  nodes: [
    { name: "pve01", cpus: 4 },
    { name: "pve02", cpus: 4 },
  ],
  storages: [
    { id: "local-lvm", type: "lvmthin", sizeGiB: 100 },
    { id: "templates", type: "nfs", sizeGiB: 100 },
    { id: "small", type: "lvmthin", sizeGiB: 2, nodes: ["pve01"] },
  ],
  vms: [
    {
      vmid: 9000,
      node: "pve01",
      config: { ...TEMPLATE, scsi0: "templates:9000/base-9000-disk-0.qcow2,size=3G" },
    },
    {
      vmid: 9100,
      node: "pve01",
      config: { ...TEMPLATE, scsi0: "local-lvm:base-9100-disk-0,size=3G" },
    },
  ],
  pciMappings: [{ id: "gpu", map: [{ node: "pve01", path: "0000:01:00.0", id: "10de:2230" }] }],
};

async function task(double: ProxmoxDouble, method: string, path: string, params = {}) {
  return waitTask(double, await data(double, method, path, params));
}

describe("proxmox double: qemu-server's rules", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({ ...FAST, seed: SEED });
  });
  afterAll(() => double.stop());

  describe("clone", () => {
    it("refuses a full clone to another node onto non-shared storage", async () => {
      const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", {
        newid: 200,
        full: 1,
        target: "pve02",
        storage: "local-lvm",
      });
      expect(res.status).toBe(500);
      expect(res.statusMessage).toBe("can't clone to non-shared storage 'local-lvm'");
      expect(double.vm(200)).toBeUndefined();
    });

    it("clones a template on shared storage straight to another node, onto that storage", async () => {
      const done = await task(double, "POST", "nodes/pve01/qemu/9000/clone", {
        newid: 201,
        full: 1,
        target: "pve02",
      });
      expect(done.exitstatus).toBe("OK");
      expect(double.vm(201)).toMatchObject({ node: "pve02" });
      expect(double.vm(201)?.config.scsi0).toMatch(/^templates:201\/vm-201-disk-0\.qcow2,/);
    });

    it("refuses a clone to another node of a template on local storage", async () => {
      const res = await api(double, "POST", "nodes/pve01/qemu/9100/clone", {
        newid: 202,
        target: "pve02",
        full: 1,
      });
      expect(res.statusMessage).toBe("can't clone VM to node 'pve02' (VM uses local storage)");
    });

    it("refuses an existing VM ID", async () => {
      const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", { newid: 9100 });
      expect(res.status).toBe(500);
      expect(res.statusMessage).toBe("unable to create VM 9100: config file already exists");
    });

    it("limits linked clones: no storage or format, base volumes only", async () => {
      const format = await api(double, "POST", "nodes/pve01/qemu/9100/clone", {
        newid: 203,
        full: 0,
        format: "qcow2",
      });
      expect(format.statusMessage).toBe("parameter 'format' not allowed for linked clones");
      expect(
        (await task(double, "POST", "nodes/pve01/qemu/9100/clone", { newid: 204, full: 0 }))
          .exitstatus,
      ).toBe("OK");
      const ofClone = await api(double, "POST", "nodes/pve01/qemu/204/clone", {
        newid: 205,
        full: 0,
      });
      expect(ofClone.statusMessage).toBe("Linked clone feature is not supported for drive 'scsi0'");
    });

    it("fails the clone task when the copy does not fit on the target storage", async () => {
      const done = await task(double, "POST", "nodes/pve01/qemu/9100/clone", {
        newid: 206,
        full: 1,
        storage: "small",
      });
      expect(done.exitstatus).toMatch(/^unable to allocate 3G on storage 'small'/);
      expect(double.vm(206)).toBeUndefined();
      expect(await data(double, "GET", "nodes/pve01/storage/small/content")).toEqual([]);
    });
  });

  describe("start, resize and destroy fail inside their task", () => {
    beforeAll(async () => {
      await task(double, "POST", "nodes/pve01/qemu/9100/clone", { newid: 300, full: 1 });
    });

    it("refuses more vCPUs than the host has when the VM starts", async () => {
      await data(double, "PUT", "nodes/pve01/qemu/300/config", { cores: 4, sockets: 2 });
      const start = await api(double, "POST", "nodes/pve01/qemu/300/status/start");
      expect(start.status).toBe(200);
      expect((await waitTask(double, start.body.data)).exitstatus).toBe(
        "MAX 4 vcpus allowed per VM on this node",
      );
      await data(double, "PUT", "nodes/pve01/qemu/300/config", { cores: 4, sockets: 1 });
    });

    it("fails the start of a VM whose PCI mapping does not exist", async () => {
      await data(double, "PUT", "nodes/pve01/qemu/300/config", { hostpci0: "mapping=nogpu" });
      expect((await task(double, "POST", "nodes/pve01/qemu/300/status/start")).exitstatus).toBe(
        "PCI device mapping not found for 'nogpu'",
      );
      await data(double, "PUT", "nodes/pve01/qemu/300/config", { delete: "hostpci0" });
    });

    it("fails the start of a locked VM", async () => {
      const upid: string = await data(double, "POST", "nodes/pve01/qemu/9100/clone", {
        newid: 301,
      });
      const locked = await task(double, "POST", "nodes/pve01/qemu/301/status/start");
      expect(locked.exitstatus).toBe("VM is locked (clone)");
      await waitTask(double, upid);
    });

    it("fails growing a disk beyond the storage's free space", async () => {
      const res = await api(double, "PUT", "nodes/pve01/qemu/300/resize", {
        disk: "scsi0",
        size: "+500G",
      });
      expect(res.status).toBe(200);
      expect((await waitTask(double, res.body.data)).exitstatus).toMatch(
        /^unable to allocate 500G on storage 'local-lvm'/,
      );
    });

    it("fails destroying a running VM, and leaves it running", async () => {
      await task(double, "POST", "nodes/pve01/qemu/300/status/start");
      const destroy = await task(double, "DELETE", "nodes/pve01/qemu/300");
      expect(destroy.exitstatus).toBe("VM 300 is running - destroy failed");
      expect(double.vm(300)?.status).toBe("running");
    });
  });

  describe("config", () => {
    it("lower-cases tags, de-duplicated and sorted", async () => {
      await data(double, "PUT", "nodes/pve02/qemu/201/config", {
        tags: "Kubespray;HomeLab;homelab",
      });
      expect((await data(double, "GET", "nodes/pve02/qemu/201/config")).tags).toBe(
        "homelab;kubespray",
      );
    });
  });

  describe("migrate", () => {
    it("refuses the local node as target with 400", async () => {
      const res = await api(double, "POST", "nodes/pve01/qemu/204/migrate", { target: "pve01" });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual({ target: "target is local node." });
    });

    it("moves local disks offline, and needs targetstorage where the target lacks one", async () => {
      await task(double, "POST", "nodes/pve01/qemu/9100/clone", { newid: 401, full: 1 });
      await data(double, "PUT", "nodes/pve01/qemu/401/config", { scsi1: "small:1" });
      const lacking = await api(double, "POST", "nodes/pve01/qemu/401/migrate", {
        target: "pve02",
      });
      expect(lacking.statusMessage).toBe("storage 'small' is not available on node 'pve02'");
      const moved = await task(double, "POST", "nodes/pve01/qemu/401/migrate", {
        target: "pve02",
        targetstorage: "small:local-lvm",
      });
      expect(moved.exitstatus).toBe("OK");
      expect(double.vm(401)?.node).toBe("pve02");
      expect(double.vm(401)?.config.scsi1).toMatch(/^local-lvm:/);
    });
  });

  describe("what a disk holds (the tests' identity of a volume)", () => {
    const dataOf = (vmid: number, disk: string) => {
      const vm = double.vm(vmid);
      const volid = (vm?.config[disk] ?? "").split(",")[0];
      return double.cluster.store.get(vm?.node ?? "", volid)?.dataId;
    };

    it("is new for a clone and a new disk, and kept by a move and a migration", async () => {
      await task(double, "POST", "nodes/pve01/qemu/9000/clone", { newid: 402, full: 1 });
      const cloned = dataOf(402, "scsi0");
      expect(cloned).toEqual(expect.any(String));
      expect(cloned).not.toBe(dataOf(9000, "scsi0"));
      await task(double, "POST", "nodes/pve01/qemu/402/move_disk", {
        disk: "scsi0",
        storage: "local-lvm",
        delete: 1,
      });
      expect(double.vm(402)?.config.scsi0).toMatch(/^local-lvm:vm-402-disk-0,/);
      expect(dataOf(402, "scsi0")).toBe(cloned);
      await task(double, "POST", "nodes/pve01/qemu/402/migrate", { target: "pve02" });
      expect(dataOf(402, "scsi0")).toBe(cloned);
      await data(double, "PUT", "nodes/pve02/qemu/402/config", { scsi1: "local-lvm:1" });
      expect([cloned, undefined]).not.toContain(dataOf(402, "scsi1"));
    });
  });
});
