import { readdirSync } from "node:fs";
import { join } from "node:path";

import { PveCluster } from "../../proxmox-double/model";
import { DEFAULT_SEED_FILE, loadSeedFile, parseSeed, SeedError } from "../../proxmox-double/seed";

// The double's model it loads can fetch images over HTTP: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const TIMING = { cloneDurationMs: 1, taskDurationMs: 1, agentDelayMs: 1 };

const SEED_DIR = join(__dirname, "..", "..", "proxmox-double");

describe("seed", () => {
  it.each(readdirSync(SEED_DIR).filter((f) => /^seed\..*\.yaml$/.test(f)))("loads %s", (file) => {
    const seed = loadSeedFile(join(SEED_DIR, file));
    expect(seed.nodes.length).toBeGreaterThan(0);
    expect(seed.vms.some((v) => v.config.template === 1)).toBe(true);
    // The cluster model accepts every VM of it: its volumes exist, its NICs have MACs.
    const cluster = new PveCluster(seed, TIMING, {}, "root@pam!double");
    for (const vm of cluster.vms.values()) {
      expect(vm.config.get("net0")).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr\d/);
      const disk = /^([^,]+),/.exec(vm.config.get("scsi0") ?? "")?.[1] ?? "";
      expect(cluster.volume(vm.node, disk)).toBeDefined();
    }
  });

  it("has the templates and mapping the reference definitions use", () => {
    const homelab = loadSeedFile(join(SEED_DIR, "seed.homelab.yaml"));
    expect(homelab.nodes.map((n) => n.name)).toEqual(["pve01", "pve02", "pve03"]);
    expect(homelab.vms.find((v) => v.vmid === 9000)?.node).toBe("pve01");
    const cloud = loadSeedFile(join(SEED_DIR, "seed.cloud.yaml"));
    expect(cloud.nodes.map((n) => n.name)).toEqual(["hypervisor"]);
    expect(cloud.vms.find((v) => v.vmid === 9100)?.config.scsi0).toMatch(/^local-zfs:/);
    expect(cloud.pciMappings.map((m) => m.id)).toEqual(["rtx-a6000"]);
    expect(loadSeedFile(DEFAULT_SEED_FILE).storages.map((s) => s.id)).toEqual([
      "local",
      "local-lvm",
      "local-zfs",
    ]);
  });

  it("applies defaults, shared for network storages", () => {
    const seed = parseSeed({
      nodes: [{ name: "pve" }],
      storages: [
        { id: "nas", type: "nfs" },
        { id: "local-lvm", type: "lvmthin" },
      ],
    });
    expect(seed.version).toBe("8.4.1");
    expect(seed.nodes[0].bridges).toEqual(["vmbr0"]);
    expect(seed.storages.map((s) => s.shared)).toEqual([true, false]);
  });

  it("rejects unknown keys and references to unknown nodes, naming the field", () => {
    expect(() => parseSeed({ nodes: [{ name: "pve", cpu: 4 }] })).toThrow(SeedError);
    expect(() => parseSeed({ nodes: [{ name: "pve", cpu: 4 }] })).toThrow(/nodes\.0/);
    expect(() =>
      parseSeed({ nodes: [{ name: "pve" }], vms: [{ vmid: 100, node: "other" }] }),
    ).toThrow("vms.100.node: unknown node 'other'");
    expect(() =>
      parseSeed({
        nodes: [{ name: "pve" }],
        vms: [
          { vmid: 100, node: "pve" },
          { vmid: 100, node: "pve" },
        ],
      }),
    ).toThrow("vms.100: duplicate VM ID");
  });

  it("rejects a VM whose config names a storage its node lacks, or an unknown key", () => {
    const seed = (config: Record<string, string>) =>
      parseSeed({ nodes: [{ name: "pve" }], vms: [{ vmid: 100, node: "pve", config }] });
    expect(
      () => new PveCluster(seed({ scsi0: "nope:vm-100-disk-0" }), TIMING, {}, "root@pam!double"),
    ).toThrow("vms.100.config: storage 'nope' does not exist on node 'pve'");
    expect(() => new PveCluster(seed({ cors: "2" }), TIMING, {}, "root@pam!double")).toThrow(
      "vms.100.config: 'cors' is not a qemu-server config key",
    );
  });
});
