import { ProxmoxDouble } from "../../proxmox-double";
import { Privileges } from "../../proxmox-double/acl";
import { documentedAcl } from "../e2e/support/role";

import { api, data, waitTask } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const FAST = { cloneDurationMs: 40, taskDurationMs: 20, agentDelayMs: 50 } as const;

describe("proxmox double: privileges", () => {
  it("propagates a privilege from a path to everything below it, not sideways", () => {
    const p = new Privileges({ "/vms/100": ["VM.Audit"], "/": ["Sys.Audit"] });
    expect(p.has("/vms/100", "VM.Audit")).toBe(true);
    expect(p.has("/vms/101", "VM.Audit")).toBe(false);
    expect(p.has("/nodes/pve01", "Sys.Audit")).toBe(true);
    expect(p.check("/vms/101", ["VM.Audit", "VM.Clone"], true)?.message).toBe(
      "Permission check failed (/vms/101, VM.Audit|VM.Clone)",
    );
  });
});

describe("proxmox double: an ACL from the seed", () => {
  it("limits the token to the seed's privileges", async () => {
    const double = await ProxmoxDouble.start({
      ...FAST,
      seed: {
        nodes: [{ name: "pve01" }],
        acl: { "/vms": ["VM.Audit"] },
      },
    });
    try {
      expect((await api(double, "GET", "cluster/status")).statusMessage).toBe(
        "Permission check failed (/, Sys.Audit)",
      );
      expect((await api(double, "GET", "nodes/pve01/qemu/100/config")).statusMessage).toBe(
        "Configuration file 'nodes/pve01/qemu-server/100.conf' does not exist",
      );
    } finally {
      await double.stop();
    }
  });
});

describe("proxmox double: a token with the role docs/proxmox.md documents", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({ ...FAST, acl: documentedAcl() });
  });
  afterAll(() => double.stop());
  afterEach(() => double.setAcl(documentedAcl()));

  it("may do the whole VM lifecycle the vms stack needs", async () => {
    await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/9000/clone", {
        newid: 4100,
        full: 1,
        storage: "local-lvm",
        name: "kspray-cp-1",
      }),
    );
    await data(double, "PUT", "nodes/pve01/qemu/4100/config", {
      cores: 4,
      memory: 8192,
      net0: "virtio,bridge=vmbr0,tag=30",
      ipconfig0: "ip=10.10.30.21/24,gw=10.10.30.1",
      ide2: "local-lvm:cloudinit",
      hostpci0: "mapping=rtx-a6000,pcie=1",
      tags: "kspray",
      onboot: 1,
    });
    await waitTask(
      double,
      await data(double, "PUT", "nodes/pve01/qemu/4100/resize", { disk: "scsi0", size: "40G" }),
    );
    await data(double, "GET", "nodes/pve01/qemu/4100/status/current");
    await data(double, "GET", "cluster/status");
    await data(double, "GET", "nodes/pve01/storage/local-lvm/status");
  });

  it("gets 403 naming the privilege the method's permissions need", async () => {
    double.setAcl(documentedAcl(["VM.Clone"]));
    const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", { newid: 4101 });
    expect(res.status).toBe(403);
    expect(res.statusMessage).toBe("Permission check failed (/vms/9000, VM.Clone)");
  });

  it("checks permissions before it verifies parameters, as pve-api-daemon does", async () => {
    double.setAcl(documentedAcl(["VM.Clone"]));
    const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", { newid: 1 });
    expect(res.status).toBe(403);
  });

  it.each([
    ["VM.Config.CPU", { cores: 2 }, "/vms/4100, VM.Config.CPU"],
    ["VM.Config.Memory", { memory: 4096 }, "/vms/4100, VM.Config.Memory"],
    ["VM.Config.Cloudinit", { ciuser: "debian" }, "/vms/4100, VM.Config.Cloudinit"],
    ["VM.Config.Network", { net0: "virtio,bridge=vmbr0" }, "/vms/4100, VM.Config.Network"],
    [
      "SDN.Use",
      { net0: "virtio,bridge=vmbr0,tag=30" },
      "/sdn/zones/localnetwork/vmbr0/30, SDN.Use",
    ],
    ["VM.Config.Disk", { scsi1: "local-lvm:4" }, "/vms/4100, VM.Config.Disk"],
    [
      "Datastore.AllocateSpace",
      { scsi1: "local-lvm:4" },
      "/storage/local-lvm, Datastore.AllocateSpace",
    ],
    ["Mapping.Use", { hostpci0: "mapping=rtx-a6000" }, "/mapping/pci/rtx-a6000, Mapping.Use"],
    ["VM.Config.HWType", { machine: "q35" }, "/vms/4100, VM.Config.HWType"],
    ["VM.Config.Options", { onboot: 1 }, "/vms/4100, VM.Config.Options"],
  ])("without %s, a config change that needs it gets 403 naming it", async (drop, params, what) => {
    double.setAcl(documentedAcl([drop]));
    const res = await api(double, "PUT", "nodes/pve01/qemu/4100/config", params);
    expect(res.status).toBe(403);
    expect(res.statusMessage).toBe(`Permission check failed (${what})`);
  });

  it("needs VM.PowerMgmt to start and VM.GuestAgent.Audit to ask the agent", async () => {
    double.setAcl(documentedAcl(["VM.PowerMgmt", "VM.GuestAgent.Audit"]));
    expect((await api(double, "POST", "nodes/pve01/qemu/4100/status/start")).statusMessage).toBe(
      "Permission check failed (/vms/4100, VM.PowerMgmt)",
    );
    const agent = await api(double, "GET", "nodes/pve01/qemu/4100/agent/network-get-interfaces");
    expect(agent.statusMessage).toBe(
      "Permission check failed (/vms/4100, VM.GuestAgent.Audit|VM.GuestAgent.Unrestricted)",
    );
  });
});
