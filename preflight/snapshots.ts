/**
 * Preflight for `proxmox.snapshots`: before anything runs, every node VM that Proxmox could
 * not snapshot, with the reason and the opt-out. An existing VM is judged by its disks as
 * they are; a VM still to be made by where the deploy puts its disks (the datastore) and
 * the format they will have there. The rule itself is lib/proxmox/snapshot-support.ts,
 * which the runner asks too.
 */
import type { NodeSpec } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";
import type { SnapshotSubject } from "../lib/proxmox/snapshot-support";
import {
  BLOCK_STORAGE_TYPES,
  SNAPSHOT_CAPABLE,
  snapshotBlockers,
  volumeFormat,
} from "../lib/proxmox/snapshot-support";
import { VmSnapshots } from "../lib/proxmox/snapshots";

import type { ProxmoxApi } from "./proxmox-api";
import { ApiError } from "./proxmox-api";

/** What this check reads of `/cluster/resources` and `/nodes/{node}/storage`. */
interface ExistingVm {
  readonly vmid: number;
  readonly node: string;
  readonly name?: string;
}
interface HostStorage {
  readonly storage: string;
  readonly type?: string;
}

const DISK = /^(scsi|virtio|sata)\d+$/;

/**
 * The format a new node's disk gets on the datastore: raw on a block storage; on a file
 * storage, qcow2 for a template made from an image (qemu-server imports to qcow2 there),
 * else the hand-made template's own (a full clone keeps it).
 */
async function newDiskFormat(
  api: ProxmoxApi,
  config: ClusterConfig,
  datastoreType: string,
  templateNode: string,
): Promise<string> {
  if (BLOCK_STORAGE_TYPES.has(datastoreType)) return "raw";
  if (config.proxmox.template.image !== undefined) return "qcow2";
  const { vmId } = config.proxmox.template;
  try {
    const conf = await api.get<Record<string, string | number>>(
      `/nodes/${templateNode}/qemu/${vmId}/config`,
    );
    const disk = Object.entries(conf)
      .filter(([k, v]) => DISK.test(k) && !String(v).includes("cloudinit"))
      .map(([, v]) => String(v).split(",")[0])[0];
    // Named with its extension on a file storage; a block storage's volume is raw.
    return disk === undefined ? "qcow2" : volumeFormat(disk, "unknown");
  } catch (e) {
    if (e instanceof ApiError) return "qcow2"; // checkTemplate says what is wrong with it
    throw e;
  }
}

/** The subject of a node whose VM the deploy will make: its disk, and a GPU node's EFI disk. */
function plannedSubject(
  node: NodeSpec,
  datastore: string,
  type: string,
  format: string,
): SnapshotSubject {
  const disks = [{ key: "scsi0", volid: `${datastore}:(new disk)`, storageType: type, format }];
  // The provider makes the EFI disk raw unless told otherwise.
  if (node.gpuMapping !== undefined)
    disks.push({
      key: "efidisk0",
      volid: `${datastore}:(new EFI disk)`,
      storageType: type,
      format: "raw",
    });
  return { name: node.name, disks, pciDevices: node.gpuMapping ? ["hostpci0"] : [] };
}

export async function checkSnapshots(
  api: ProxmoxApi,
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
  vms: readonly ExistingVm[],
  storages: ReadonlyMap<string, readonly HostStorage[]>,
): Promise<Issue[]> {
  if (!config.proxmox.snapshots.enabled) return [];
  const snapshots = new VmSnapshots(api);
  const datastore = config.proxmox.datastore;
  const formats = new Map<string, string>();
  const problems: Issue[] = [];
  for (const node of nodes) {
    const vm = vms.find((v) => v.vmid === node.vmId && v.name === node.name);
    let subject: SnapshotSubject;
    if (vm) {
      try {
        subject = await snapshots.subject({ node: vm.node, vmid: vm.vmid }, node.name);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        problems.push(
          issue(
            "proxmox.snapshots",
            `cannot read VM ${vm.vmid} (${node.name}) to tell whether it can be snapshotted (${e.reason})`,
            "give the token the documented role (docs/proxmox.md)",
          ),
        );
        continue;
      }
    } else {
      const type = storages.get(node.host)?.find((s) => s.storage === datastore)?.type;
      if (type === undefined) continue; // checkDatastore reports a datastore the host lacks
      const format =
        formats.get(type) ?? (await newDiskFormat(api, config, type, node.templateNode));
      formats.set(type, format);
      subject = plannedSubject(node, datastore, type, format);
    }
    const blockers = snapshotBlockers(subject);
    if (blockers.length === 0) continue;
    problems.push(
      issue(
        "proxmox.snapshots",
        `Proxmox cannot snapshot ${vm ? "the VM of " : "the VM the deploy makes for "}${node.name}: ${blockers.map((b) => b.message.replace(`${node.name}'s `, "")).join("; ")}`,
        `put the VMs' disks on storage that can snapshot (${SNAPSHOT_CAPABLE}; see docs/proxmox.md), or set proxmox.snapshots.enabled: false to run upgrades without snapshots to roll back to`,
      ),
    );
  }
  return problems;
}
