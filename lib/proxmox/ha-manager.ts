/**
 * Proxmox's HA manager and its node list. Proxmox checks an HA rule against the nodes the
 * manager's status lists (`/cluster/ha/status/manager_status`, `node_status`). On a
 * cluster where HA was never used that list is empty until the manager has been active
 * once, which it becomes a round (about 10 s) after the first HA resource exists; until
 * then Proxmox refuses every negative resource affinity rule with "rule defines more
 * resources than available nodes". The vms stack waits for the list between making the
 * resources and the rules.
 */
import { UserError } from "../../errors/user-error";

/** What the wait needs of a Proxmox VE API client. */
export interface ManagerStatusReader {
  get<T>(path: string, query?: Record<string, string>): Promise<T>;
}

export interface HaManagerStatus {
  readonly manager_status: {
    readonly master_node?: string;
    readonly node_status?: Readonly<Record<string, string>>;
  };
  readonly quorum?: { readonly quorate?: number };
}

/** The hosts among `hosts` that the HA manager does not list yet. */
export async function unlistedHosts(
  api: ManagerStatusReader,
  hosts: readonly string[],
): Promise<string[]> {
  const status = await api.get<HaManagerStatus>("/cluster/ha/status/manager_status");
  const listed = status.manager_status.node_status ?? {};
  return hosts.filter((h) => listed[h] === undefined);
}

export interface WaitOptions {
  /** @default 300000 */
  readonly timeoutMs?: number;
  /** @default 2000 */
  readonly intervalMs?: number;
}

/**
 * Waits until the HA manager lists every host of `hosts`; rejects after the timeout,
 * naming the hosts still missing.
 */
export async function waitForHaManager(
  api: ManagerStatusReader,
  hosts: readonly string[],
  opts: WaitOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = await unlistedHosts(api, hosts);
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      // Proxmox's side, not a bug here: a UserError (the runner's exit 2, no stack trace).
      throw UserError.at(
        "proxmox.ha.enabled",
        `Proxmox's HA manager does not list ${missing.join(", ")} after ${Math.round(timeoutMs / 1000)} s (GET /cluster/ha/status/manager_status)`,
        "check that pve-ha-crm and pve-ha-lrm run on every host (systemctl status pve-ha-crm pve-ha-lrm) and that the cluster is quorate",
      );
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2000));
  }
}
