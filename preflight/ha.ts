/**
 * Preflight for `proxmox.ha`: Proxmox VE 9 or newer (HA rules replaced HA groups there), a
 * cluster with quorum (Proxmox refuses HA changes without it), and a warning when the
 * disks are on storage only their own host sees, where HA can restart a VM but not move it
 * off a failed host.
 */
import type { NodeSpec } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";

import type { ProxmoxApi } from "./proxmox-api";
import { ApiError } from "./proxmox-api";

interface ClusterStatusEntry {
  readonly type: string;
  readonly name?: string;
  readonly quorate?: number;
  readonly online?: number;
}

interface HostStorage {
  readonly storage: string;
  readonly shared?: number;
}

async function read<T>(api: ProxmoxApi, path: string): Promise<T | ApiError> {
  try {
    return await api.get<T>(path);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
}

export async function checkHa(
  api: ProxmoxApi,
  config: ClusterConfig,
  nodes: readonly NodeSpec[],
  storages: ReadonlyMap<string, readonly HostStorage[]>,
): Promise<Issue[]> {
  if (!config.proxmox.ha.enabled) return [];
  const what = "proxmox.ha.enabled";
  const problems: Issue[] = [];
  const version = await read<{ version: string }>(api, "/version");
  if (!(version instanceof ApiError) && Number(version.version.split(".")[0]) < 9)
    problems.push(
      issue(
        what,
        `Proxmox VE ${version.version} has HA groups, not the HA rules (Proxmox VE 9) that keep the control plane on different hosts`,
        "upgrade the cluster to Proxmox VE 9, or set proxmox.ha.enabled: false",
      ),
    );
  const status = await read<ClusterStatusEntry[]>(api, "/cluster/status");
  if (status instanceof ApiError) {
    problems.push(
      issue(
        what,
        `cannot read /cluster/status (${status.reason})`,
        "give the token the documented role (docs/proxmox.md)",
      ),
    );
  } else {
    const cluster = status.find((e) => e.type === "cluster");
    if (cluster === undefined && new Set(nodes.map((n) => n.host)).size > 1)
      problems.push(
        issue(
          what,
          "the hosts are not a Proxmox cluster (/cluster/status lists none)",
          "join them into one cluster (pvecm create, pvecm add) before enabling HA",
        ),
      );
    else if (cluster !== undefined && cluster.quorate !== 1)
      problems.push(
        issue(
          what,
          `cluster ${cluster.name ?? "(unnamed)"} has no quorum, and Proxmox refuses HA changes without it`,
          "bring enough hosts back online (pvecm status shows the votes), then deploy",
        ),
      );
  }
  const local = [...storages]
    .filter(([host]) => nodes.some((n) => n.host === host))
    .filter(([, list]) => list.find((s) => s.storage === config.proxmox.datastore)?.shared === 0)
    .map(([host]) => host);
  if (local.length > 0)
    problems.push({
      ...issue(
        what,
        `the VMs' disks are on ${config.proxmox.datastore}, which only its own host sees (${local.join(", ")}): when a host fails Proxmox cannot start its VMs elsewhere, only restart a VM that stopped on a running host`,
        "put proxmox.datastore on shared storage (Ceph RBD, NFS), or replicate ZFS volumes to the other hosts",
      ),
      warning: true,
    });
  return problems;
}
