/**
 * What takes a node's VM away in a plan (`tofu show -json`'s resource changes, shaped as
 * bpg/proxmox 0.111.1 plans them against the Proxmox double), and which of it a deploy
 * refuses. The e2e suites (vms, template, interrupt) get these plans from real OpenTofu.
 */
import type { PlannedChange } from "../../lib/node-guard";
import { destroyableNodes, judge, nodeVmLosses, refusal } from "../../lib/node-guard";

const vm = (name: string, host: string, vmId: number, extra: Record<string, unknown> = {}) => ({
  name,
  node_name: host,
  vm_id: vmId,
  template: false,
  disk: [{ interface: "scsi0", size: 120 }],
  ...extra,
});

/** kspray-worker-3 moved from pve01 to pve02: the provider replaces it. */
const moved: PlannedChange = {
  address: "proxmox_virtual_environment_vm.worker-3_23007C26",
  action_reason: "replace_because_cannot_update",
  change: {
    actions: ["delete", "create"],
    before: vm("kspray-worker-3", "pve01", 4202),
    after: vm("kspray-worker-3", "pve02", 4202),
    replace_paths: [["node_name"]],
  },
};

/** kspray-worker-2's disk on virtio0 instead of scsi0: an update that swaps the disk. */
const swapped: PlannedChange = {
  address: "proxmox_virtual_environment_vm.worker-2_DAEBF6F9",
  change: {
    actions: ["update"],
    before: vm("kspray-worker-2", "pve03", 4201),
    after: vm("kspray-worker-2", "pve03", 4201, { disk: [{ interface: "virtio0", size: 120 }] }),
  },
};

/** kspray-worker-1 failed to start when it was made: OpenTofu replaces a tainted object. */
const unfinished: PlannedChange = {
  address: "proxmox_virtual_environment_vm.worker-1_C0436445",
  action_reason: "replace_because_tainted",
  change: {
    actions: ["delete", "create"],
    before: vm("kspray-worker-1", "pve02", 4200),
    after: vm("kspray-worker-1", "pve02", 4200),
  },
};

const inPlace: PlannedChange = {
  address: "proxmox_virtual_environment_vm.cp-2_B099D003",
  change: {
    actions: ["update"],
    before: vm("kspray-cp-2", "pve02", 4101, { bios: "seabios" }),
    after: vm("kspray-cp-2", "pve02", 4101, { bios: "ovmf" }),
  },
};

describe("the node guard", () => {
  it("names a replaced node VM with the attributes that force it, old and new value", () => {
    expect(nodeVmLosses({ resource_changes: [moved] })).toEqual([
      {
        node: "kspray-worker-3",
        address: moved.address,
        vm: "pve01/4202",
        kind: "replace",
        tainted: false,
        causes: ['node_name: "pve01" → "pve02"'],
      },
    ]);
  });

  it("reads nested paths of the replacement, as a clone block forces it", () => {
    const clone: PlannedChange = {
      ...moved,
      change: {
        ...moved.change,
        before: { ...moved.change.before, clone: [] },
        after: { ...moved.change.after, clone: [{ vm_id: 9500 }] },
        replace_paths: [["clone", 0, "vm_id"]],
      },
    };
    expect(nodeVmLosses({ resource_changes: [clone] })[0].causes).toEqual([
      "clone[0].vm_id: (unknown) → 9500",
    ]);
  });

  it("names an update that takes a disk off a node VM", () => {
    expect(nodeVmLosses({ resource_changes: [swapped] })).toEqual([
      expect.objectContaining({
        node: "kspray-worker-2",
        kind: "disk",
        causes: ['disk interface: ["scsi0"] → ["virtio0"]'],
      }),
    ]);
  });

  it("leaves alone in-place updates, node removals, new nodes and templates", () => {
    const removed: PlannedChange = {
      address: "proxmox_virtual_environment_vm.worker-4_F607ABEF",
      change: { actions: ["delete"], before: vm("kspray-worker-4", "pve01", 4203), after: null },
    };
    const added: PlannedChange = {
      address: "proxmox_virtual_environment_vm.worker-5_A",
      change: { actions: ["create"], before: null, after: vm("kspray-worker-5", "pve02", 4204) },
    };
    const template: PlannedChange = {
      address: "proxmox_virtual_environment_vm.template-pve01_Resource_1",
      change: {
        actions: ["delete", "create"],
        before: { ...vm("kspray-template-pve01", "pve01", 9500), template: true },
        after: { ...vm("kspray-template-pve01", "pve01", 9500), template: true },
        replace_paths: [["disk"]],
      },
    };
    expect(nodeVmLosses({ resource_changes: [inPlace, removed, added, template] })).toEqual([]);
  });

  it("refuses a node of the cluster, even one named or left unfinished", () => {
    const losses = nodeVmLosses({ resource_changes: [moved, unfinished, swapped] });
    const inCluster = new Set(["kspray-worker-1", "kspray-worker-2", "kspray-worker-3"]);
    expect(judge(losses, "all", inCluster).allowed).toEqual([]);
  });

  it("lets a deploy make anew a node outside the cluster that is unfinished or named, never a disk swap", () => {
    const losses = nodeVmLosses({ resource_changes: [moved, unfinished, swapped] });
    const none = new Set<string>();
    const nodes = (ls: readonly { node: string }[]) => ls.map((l) => l.node);
    expect(nodes(judge(losses, [], none).allowed)).toEqual(["kspray-worker-1"]);
    expect(nodes(judge(losses, ["kspray-worker-3", "kspray-worker-2"], none).allowed)).toEqual([
      "kspray-worker-3",
      "kspray-worker-1",
    ]);
    expect(nodes(judge(losses, "all", none).refused)).toEqual(["kspray-worker-2"]);
  });

  it("says per node what the plan would do, why, and how to keep the node", () => {
    const losses = nodeVmLosses({ resource_changes: [moved, swapped] });
    const lines = refusal(losses, new Set(["kspray-worker-3"])).lines();
    expect(lines).toEqual([
      expect.stringMatching(
        /^kspray-worker-3 \(VM pve01\/4202\): its VM would be deleted and cloned anew \(node_name: "pve01" → "pve02"\), without draining it or removing it from Kubernetes first; keep proxmox\.hosts and the pool's hosts as they were, .*only rebuilt through its removal/,
      ),
      expect.stringMatching(
        /^kspray-worker-2 \(VM pve03\/4201\): its disk would be detached and a blank one added \(disk interface: \["scsi0"\] → \["virtio0"\]\), without draining it or removing it from Kubernetes first; keep the disk layout the VM was made with/,
      ),
    ]);
    // A node outside the cluster: how to let the deploy make it anew.
    expect(refusal([losses[0]], new Set()).lines()[0]).toContain(
      "kspray-worker-3 is not part of the cluster Kubespray built: to let the deploy make its VM anew, deploy with DESTROYABLE_NODES=kspray-worker-3",
    );
  });

  it("reads DESTROYABLE_NODES as all, or node names", () => {
    expect(destroyableNodes({})).toEqual([]);
    expect(destroyableNodes({ DESTROYABLE_NODES: "all" })).toBe("all");
    expect(destroyableNodes({ DESTROYABLE_NODES: " kspray-worker-1, kspray-cp-2,," })).toEqual([
      "kspray-worker-1",
      "kspray-cp-2",
    ]);
  });
});
