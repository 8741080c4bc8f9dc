/**
 * Preflight with `proxmox.ha` against the double: Proxmox VE 9 (rules), a quorate cluster,
 * the token's Sys.Console (and VM.Snapshot for snapshots, asked only when they are on), and
 * a warning for disks only their own host sees.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { parse } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { formatIssue } from "../../errors/user-error";
import { preflight } from "../../preflight/preflight";
import {
  HA_PRIVILEGES,
  REQUIRED_PRIVILEGES,
  SNAPSHOT_PRIVILEGES,
} from "../../preflight/privileges";
import { ProxmoxHttpsClient } from "../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../proxmox-double";
import type { Definition } from "../fixtures/definitions";
import { homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Seed = any;

jest.setTimeout(60_000);

/** The homelab seed as a Proxmox VE 9 cluster, with shared Ceph storage for the disks. */
function seed(extra: Seed = {}): Seed {
  const s = parse(readFileSync(join(REPO_ROOT, "proxmox-double", "seed.homelab.yaml"), "utf8"));
  s.storages.push({ id: "ceph", type: "rbd", content: ["images"], sizeGiB: 4096 });
  return { ...s, version: "9.1.1", ...extra };
}

function withHa(changes: (d: Definition) => void = () => undefined): Definition {
  const d = homelab();
  d.proxmox.ha = { enabled: true };
  d.proxmox.datastore = "ceph";
  changes(d);
  return d;
}

async function check(
  definition: Definition,
  s: Seed,
  acl?: Record<string, readonly string[]>,
): Promise<string[]> {
  const double = await ProxmoxDouble.start({ seed: s, ...(acl ? { acl } : {}) });
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

const without = (...drop: readonly string[]) => ({
  "/": REQUIRED_PRIVILEGES.filter((p) => !drop.includes(p)),
});

describe("preflight with proxmox.ha", () => {
  it("finds nothing on a quorate Proxmox VE 9 cluster with shared storage", async () => {
    expect(await check(withHa(), seed())).toEqual([]);
  });

  it("refuses Proxmox VE 8, which has HA groups but no rules", async () => {
    expect(await check(withHa(), seed({ version: "8.4.1" }))).toEqual([
      "proxmox.ha.enabled: Proxmox VE 8.4.1 has HA groups, not the HA rules (Proxmox VE 9) that keep the control plane on different hosts; upgrade the cluster to Proxmox VE 9, or set proxmox.ha.enabled: false",
    ]);
  });

  it("refuses a cluster without quorum", async () => {
    expect(await check(withHa(), seed({ quorate: false }))).toEqual([
      "proxmox.ha.enabled: cluster homelab has no quorum, and Proxmox refuses HA changes without it; bring enough hosts back online (pvecm status shows the votes), then deploy",
    ]);
  });

  it("warns that VMs on local storage cannot move off a failed host", async () => {
    const lines = await check(
      withHa((d) => (d.proxmox.datastore = "local-lvm")),
      seed(),
    );
    expect(lines).toEqual([
      expect.stringMatching(
        /^warning: proxmox\.ha\.enabled: the VMs' disks are on local-lvm, which only its own host sees \(pve01, pve02, pve03\).*; put proxmox\.datastore on shared storage/,
      ),
    ]);
  });

  it("asks for Sys.Console only with HA, and VM.Snapshot only with snapshots", async () => {
    expect(await check(withHa(), seed(), without(...HA_PRIVILEGES))).toEqual([
      expect.stringMatching(/^PROXMOX_VE_API_TOKEN: the token lacks Sys\.Console on \//),
    ]);
    const plain = homelab();
    expect(await check(plain, seed(), without(...HA_PRIVILEGES))).toEqual([]);
    expect(await check(plain, seed(), without(...SNAPSHOT_PRIVILEGES))).toEqual([
      expect.stringMatching(/^PROXMOX_VE_API_TOKEN: the token lacks VM\.Snapshot on \//),
    ]);
    plain.proxmox.snapshots = { enabled: false };
    expect(await check(plain, seed(), without(...SNAPSHOT_PRIVILEGES))).toEqual([]);
  });
});
