/**
 * Preflight's snapshot check against the double: before anything runs, every node VM that
 * Proxmox could not snapshot (an existing one by its disks, one still to be made by where
 * its disks will go), naming the opt-out; nothing with `proxmox.snapshots.enabled: false`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { parse } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { formatIssue } from "../../errors/user-error";
import { preflight } from "../../preflight/preflight";
import { ProxmoxHttpsClient } from "../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../proxmox-double";
import type { Definition } from "../fixtures/definitions";
import { cloud, homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Seed = any;

const seedOf = (name: "homelab" | "cloud"): Seed =>
  parse(readFileSync(join(REPO_ROOT, "proxmox-double", `seed.${name}.yaml`), "utf8"));

jest.setTimeout(60_000);

/** Preflight (Proxmox only) of `definition` against a double seeded with `seed`; its lines. */
async function check(definition: Definition, seed: Seed): Promise<string[]> {
  const double = await ProxmoxDouble.start({ seed });
  try {
    const { config } = parseClusterConfig({
      ...definition,
      proxmox: { ...definition.proxmox, endpoint: double.endpoint, insecure: true },
    });
    const api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
    const env = { PROXMOX_VE_API_TOKEN: double.token };
    return (await preflight(config, api, env, { cluster: false, addons: false })).map(formatIssue);
  } finally {
    await double.stop();
  }
}

/** The homelab seed with a thick LVM storage and a directory storage that takes disks. */
function homelabSeed(): Seed {
  const seed = seedOf("homelab");
  seed.storages.push(
    { id: "thick", type: "lvm", content: ["images"], sizeGiB: 2048 },
    { id: "vmfiles", type: "dir", content: ["images"], sizeGiB: 2048 },
  );
  return seed;
}

const OPT_OUT = "or set proxmox.snapshots.enabled: false to run upgrades without snapshots";

describe("preflight: can Proxmox snapshot every node VM", () => {
  it("finds nothing on LVM-thin, nor for qcow2 files cloned from a qcow2 template", async () => {
    expect(await check(homelab(), homelabSeed())).toEqual([]);
    const d = homelab();
    d.proxmox.datastore = "vmfiles";
    expect(await check(d, homelabSeed())).toEqual([]);
  });

  it("names each VM the deploy would make on thick LVM, and the opt-out", async () => {
    const d = homelab();
    d.proxmox.datastore = "thick";
    const lines = await check(d, homelabSeed());
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe(
      `proxmox.snapshots: Proxmox cannot snapshot the VM the deploy makes for kspray-cp-1: disk scsi0 (thick:(new disk)) is raw on lvm storage, which cannot be snapshotted; put the VMs' disks on storage that can snapshot (LVM-thin, ZFS, Ceph RBD, BTRFS, or qcow2 on a directory, NFS, CIFS or CephFS storage; see docs/proxmox.md), ${OPT_OUT} to roll back to`,
    );
    d.proxmox.snapshots = { enabled: false };
    expect(await check(d, homelabSeed())).toEqual([]);
  });

  it("names an existing node VM by its disk as it is: a raw file on a directory storage", async () => {
    const seed = homelabSeed();
    seed.vms.push({
      vmid: 4200,
      node: "pve01",
      status: "running",
      config: {
        name: "kspray-worker-1",
        scsi0: "vmfiles:4200/vm-4200-disk-0.raw,size=120G",
        ide2: "local-lvm:vm-4200-cloudinit,media=cdrom",
      },
    });
    expect(await check(homelab(), seed)).toEqual([
      expect.stringMatching(
        /^proxmox\.snapshots: Proxmox cannot snapshot the VM of kspray-worker-1: disk scsi0 \(vmfiles:4200\/vm-4200-disk-0\.raw\) is raw on dir storage, which cannot be snapshotted; .*proxmox\.snapshots\.enabled: false/,
      ),
    ]);
  });

  it("names a GPU node on a directory storage: its EFI disk would be raw", async () => {
    const d = cloud();
    d.proxmox.datastore = "vmfiles";
    const seed = seedOf("cloud");
    seed.storages.push({ id: "vmfiles", type: "dir", content: ["images"], sizeGiB: 4096 });
    // The template's own disk as a qcow2 file: the clones' boot disks can be snapshotted.
    seed.vms[0].config.scsi0 = "vmfiles:9100/base-9100-disk-0.qcow2,size=3G";
    const lines = await check(d, seed);
    expect(lines.filter((l) => l.startsWith("proxmox.snapshots"))).toEqual([
      expect.stringContaining(
        "the VM the deploy makes for cloud-gpu-worker-1: disk efidisk0 (vmfiles:(new EFI disk)) is raw on dir storage",
      ),
    ]);
  });
});
