/**
 * Storages and the volumes on them: where a volume lives (a node, or `*` for a shared
 * storage), how PVE names new ones (`vm-4100-disk-0`, `4100/vm-4100-disk-0.qcow2`,
 * `vm-4100-cloudinit`), allocation, freeing, and the storage views (status, content).
 */
import { randomUUID } from "node:crypto";

import { formatSize } from "../property-string";
import type { SeedStorage } from "../seed";

import { fail } from "./errors";
import type { Volume } from "./types";

/** Storage types that hold raw block devices (no qcow2, no directories). */
export const BLOCK_STORAGES: ReadonlySet<string> = new Set(["lvmthin", "lvm", "zfspool", "rbd"]);

export class VolumeStore {
  /** Volumes by `scope/storage:name`. */
  readonly all = new Map<string, Volume>();

  constructor(readonly storages: ReadonlyMap<string, SeedStorage>) {}

  storageOn(node: string, id: string): SeedStorage {
    const def = this.storages.get(id);
    if (!def || (def.nodes !== undefined && !def.nodes.includes(node))) {
      throw fail(`storage '${id}' does not exist on node '${node}'`);
    }
    return def;
  }

  /** Volumes are keyed by where they live: a node, or `*` for a shared storage. */
  static key(scope: string, storage: string, name: string): string {
    return `${scope}/${storage}:${name}`;
  }

  keyOn(def: SeedStorage, node: string, name: string): string {
    return VolumeStore.key(def.shared ? "*" : node, def.id, name);
  }

  /** Stores a volume under its (possibly new) name. */
  put(vol: Volume): void {
    this.all.set(VolumeStore.key(vol.scope, vol.storage, vol.name), vol);
  }

  free(vol: Volume): void {
    this.all.delete(VolumeStore.key(vol.scope, vol.storage, vol.name));
  }

  /** The volume `volid` (`storage:name`) as seen from `node`. */
  get(node: string, volid: string): Volume | undefined {
    const m = /^([^:]+):(.+)$/.exec(volid);
    if (!m) return undefined;
    const def = this.storages.get(m[1]);
    if (!def) return undefined;
    return this.all.get(this.keyOn(def, node, m[2]));
  }

  static volid(vol: Volume): string {
    return `${vol.storage}:${vol.name}`;
  }

  static formatOf(def: SeedStorage, name: string): string {
    if (BLOCK_STORAGES.has(def.type)) return "raw";
    const ext = /\.(raw|qcow2|vmdk)$/.exec(name);
    return ext ? ext[1] : "raw";
  }

  static efiSize(def: SeedStorage, efitype: string | undefined): number {
    if (def.type === "lvmthin" || def.type === "lvm" || def.type === "rbd") return 4 * 1024 ** 2;
    if (def.type === "zfspool") return 1024 ** 2;
    return efitype === "4m" ? 540_672 : 131_072;
  }

  /** A new disk or cloud-init volume of VM `vmid`, named like PVE names it. */
  allocate(
    node: string,
    storage: string,
    vmid: number,
    kind: "disk" | "cloudinit",
    size: number,
    format?: string,
    dataId: string = randomUUID(),
  ): Volume {
    const def = this.storageOn(node, storage);
    if (!def.content.includes("images")) {
      throw fail(`storage '${storage}' does not support vm images`);
    }
    const block = BLOCK_STORAGES.has(def.type);
    const fmt = block ? "raw" : (format ?? "qcow2");
    const scope = def.shared ? "*" : node;
    let name: string;
    if (kind === "cloudinit") {
      name = block ? `vm-${vmid}-cloudinit` : `${vmid}/vm-${vmid}-cloudinit.${fmt}`;
      if (this.all.has(VolumeStore.key(scope, storage, name))) {
        throw fail(`volume '${storage}:${name}' already exists`);
      }
    } else {
      let n = 0;
      const taken = (i: number): boolean =>
        [`vm-${vmid}-disk-${i}`, `base-${vmid}-disk-${i}`].some((b) =>
          block
            ? this.all.has(VolumeStore.key(scope, storage, b))
            : [...this.all.values()].some(
                (v) =>
                  v.scope === scope && v.storage === storage && v.name.startsWith(`${vmid}/${b}.`),
              ),
        );
      while (taken(n)) n++;
      name = block ? `vm-${vmid}-disk-${n}` : `${vmid}/vm-${vmid}-disk-${n}.${fmt}`;
    }
    const vol: Volume = {
      storage,
      scope,
      name,
      vmid,
      size,
      format: fmt,
      content: "images",
      ctime: Math.floor(Date.now() / 1000),
      dataId,
    };
    this.put(vol);
    return vol;
  }

  /**
   * Why `size` more bytes do not fit on `storage` as seen from `node` (what `lvcreate` or
   * `qemu-img` would fail with), or undefined when they fit.
   */
  noSpaceFor(node: string, storage: string, size: number): string | undefined {
    const avail = Number(this.status(node, storage).avail);
    if (size <= avail) return undefined;
    return `unable to allocate ${formatSize(size)} on storage '${storage}' (node '${node}'): only ${formatSize(avail)} free`;
  }

  /** GET /nodes/{node}/storage/{storage}/status. */
  status(node: string, storage: string): Record<string, unknown> {
    const def = this.storageOn(node, storage);
    const total = def.sizeGiB * 1024 ** 3;
    const used = [...this.all.values()]
      .filter((v) => v.storage === storage && (def.shared || v.scope === node))
      .reduce((a, v) => a + v.size, 0);
    return {
      storage: def.id,
      type: def.type,
      content: def.content.join(","),
      active: 1,
      enabled: 1,
      shared: def.shared ? 1 : 0,
      total,
      used,
      avail: Math.max(total - used, 0),
    };
  }

  /** GET /nodes/{node}/storage. */
  storagesOf(node: string): Array<Record<string, unknown>> {
    return [...this.storages.values()]
      .filter((s) => s.nodes === undefined || s.nodes.includes(node))
      .map((s) => this.status(node, s.id));
  }

  /** GET /nodes/{node}/storage/{storage}/content. */
  content(node: string, storage: string): Array<Record<string, unknown>> {
    const def = this.storageOn(node, storage);
    return [...this.all.values()]
      .filter((v) => v.storage === storage && (def.shared || v.scope === node))
      .map((v) => ({
        volid: `${v.storage}:${v.name}`,
        format: v.format,
        size: v.size,
        // pve-storage lists files (`import/`, `iso/`) with their length only, no owner.
        ...(v.content === "images" ? { used: v.size, vmid: v.vmid } : {}),
        content: v.content,
        ctime: v.ctime,
        ...(v.name.includes("/vm-") && v.name.startsWith("base-")
          ? { parent: `${v.storage}:${v.name.split("/")[0]}` }
          : {}),
      }));
  }

  /** GET /nodes/{node}/storage/{storage}/content/{volume}. */
  info(node: string, storage: string, volid: string): Record<string, unknown> {
    const def = this.storageOn(node, storage);
    const full = volid.includes(":") ? volid : `${storage}:${volid}`;
    const vol = this.get(node, full);
    if (!vol || vol.storage !== storage) throw fail(`volume '${full}' does not exist`);
    const path =
      def.type === "lvmthin" || def.type === "lvm"
        ? `/dev/pve/${vol.name}`
        : def.type === "zfspool"
          ? `/dev/zvol/rpool/data/${vol.name}`
          : def.type === "rbd"
            ? `rbd:${def.id}/${vol.name}`
            : this.filePath(def, vol.content === "images" ? `images/${vol.name}` : vol.name);
    // volume_size_info: what the image holds (qemu-img's virtual size), and the file's length.
    return { path, size: vol.virtualSize ?? vol.size, used: vol.size, format: vol.format };
  }

  /** Where a file based storage keeps `relative` (`import/x.qcow2`, `images/...`). */
  filePath(def: SeedStorage, relative: string): string {
    return def.type === "dir" ? `/var/lib/vz/${relative}` : `/mnt/pve/${def.id}/${relative}`;
  }
}
