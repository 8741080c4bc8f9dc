/**
 * VM snapshots through the Proxmox VE API, typed, for the runner's safety net (snapshot
 * before a risky Kubespray step, keep the last N, roll back): create (disk only, never the
 * RAM, with a description), list, delete, roll back, each waiting for its task; and what
 * the snapshot rule (`snapshot-support.ts`) needs to know about a VM.
 *
 * It talks to any `ProxmoxClient` (the project's `ProxmoxApi` with the deploy's token is
 * one) and needs VM.Snapshot (create, delete), VM.Snapshot.Rollback or VM.Snapshot
 * (rollback), VM.PowerMgmt (rollback with `start`) and VM.Audit and Datastore.Audit (list,
 * `subject`). A failed task is a `SnapshotError` carrying Proxmox's own exit status.
 */
import type { SnapshotSubject } from "./snapshot-support";
import { subjectFromConfig } from "./snapshot-support";

/** What the snapshot calls need of a Proxmox VE API client (`preflight/proxmox-api.ts`). */
export interface ProxmoxClient {
  get<T>(path: string, query?: Record<string, string>): Promise<T>;
  post<T>(path: string, params: Record<string, string>): Promise<T>;
  delete<T>(path: string, query?: Record<string, string>): Promise<T>;
  /** Resolves when the task ended OK; rejects with its exit status otherwise. */
  waitForTask(node: string, upid: string, timeoutMs?: number): Promise<void>;
}

/** A VM: its Proxmox node and VM ID. */
export interface VmRef {
  readonly node: string;
  readonly vmid: number;
}

/** A snapshot as `GET .../snapshot` lists it (`current` left out). */
export interface SnapshotInfo {
  readonly name: string;
  readonly description: string;
  /** Unix seconds. */
  readonly snaptime: number;
  /** The snapshot it was taken after, if any. */
  readonly parent?: string;
  /** Whether it holds the RAM. */
  readonly vmstate: boolean;
  /** `prepare` or `delete` while a task makes or deletes it. */
  readonly snapstate?: string;
}

/** A snapshot task that Proxmox refused or that failed, with its message. */
/** Proxmox's own words in an error of the client: an ApiError's reason, else its message. */
function proxmoxReason(e: unknown): string {
  const reason = (e as { reason?: unknown }).reason;
  return typeof reason === "string" ? reason : (e as Error).message;
}

export class SnapshotError extends Error {
  constructor(
    readonly vm: VmRef,
    readonly snapshot: string,
    readonly action: "create" | "delete" | "rollback",
    readonly reason: string,
  ) {
    super(`${action} of snapshot ${snapshot} of VM ${vm.vmid} on ${vm.node} failed: ${reason}`);
    this.name = "SnapshotError";
  }
}

/** Proxmox's snapshot names: a letter, then letters, digits, `-` and `_`; 2 to 40 of them. */
export const SNAPSHOT_NAME = /^[a-z][a-z0-9_-]{1,39}$/i;

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/**
 * A snapshot name for `step` taken `at` (UTC): `upgrade-cluster-20260821-153000`. The step
 * is lower-cased, anything Proxmox does not take becomes `-`, and it is shortened so the
 * whole fits Proxmox's 40 characters.
 */
export function snapshotName(step: string, at: Date): string {
  const stamp =
    `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}-` +
    `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
  let base = step
    .toLowerCase()
    .replace(/\.ya?ml$/, "")
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "");
  if (base === "") base = "snapshot";
  base = base.slice(0, 40 - stamp.length - 1).replace(/-+$/, "");
  return `${base}-${stamp}`;
}

/** Names `snapshotName` makes (the ones `prune` may delete by default). */
export const isTimestamped = (name: string): boolean => /-\d{8}-\d{6}$/.test(name);

export interface VmSnapshotsOptions {
  /** How long one snapshot task may run. @default 15 minutes */
  readonly taskTimeoutMs?: number;
}

export class VmSnapshots {
  constructor(
    private readonly api: ProxmoxClient,
    private readonly opts: VmSnapshotsOptions = {},
  ) {}

  private path(vm: VmRef, rest = ""): string {
    return `/nodes/${encodeURIComponent(vm.node)}/qemu/${vm.vmid}/snapshot${rest}`;
  }

  private async task(
    vm: VmRef,
    name: string,
    action: SnapshotError["action"],
    start: Promise<string>,
  ): Promise<void> {
    let upid: string;
    try {
      upid = await start;
    } catch (e) {
      throw new SnapshotError(vm, name, action, proxmoxReason(e));
    }
    try {
      await this.api.waitForTask(vm.node, upid, this.opts.taskTimeoutMs);
    } catch (e) {
      // ProxmoxApi says `task <upid> failed: <exit status>`: keep Proxmox's words.
      const message = proxmoxReason(e).replace(/^task \S+ failed: /, "");
      throw new SnapshotError(vm, name, action, message);
    }
  }

  /** The VM's snapshots, oldest first. */
  async list(vm: VmRef): Promise<SnapshotInfo[]> {
    const raw = await this.api.get<
      Array<{
        name: string;
        description?: string;
        snaptime?: number;
        parent?: string;
        vmstate?: number;
        snapstate?: string;
      }>
    >(this.path(vm));
    return raw
      .filter((s) => s.name !== "current")
      .map((s) => ({
        name: s.name,
        description: s.description ?? "",
        snaptime: s.snaptime ?? 0,
        vmstate: s.vmstate === 1,
        ...(s.parent !== undefined ? { parent: s.parent } : {}),
        ...(s.snapstate !== undefined ? { snapstate: s.snapstate } : {}),
      }))
      .sort((a, b) => a.snaptime - b.snaptime || a.name.localeCompare(b.name));
  }

  /** Takes a disk-only snapshot (`vmstate=0`) and waits for it. */
  async create(vm: VmRef, name: string, description: string): Promise<void> {
    if (!SNAPSHOT_NAME.test(name))
      throw new SnapshotError(
        vm,
        name,
        "create",
        "not a name Proxmox takes: a letter, then letters, digits, '-' or '_', 2 to 40 in all",
      );
    await this.task(
      vm,
      name,
      "create",
      this.api.post<string>(this.path(vm), { snapname: name, description, vmstate: "0" }),
    );
  }

  /** Deletes a snapshot and waits for it. */
  async remove(vm: VmRef, name: string): Promise<void> {
    await this.task(
      vm,
      name,
      "delete",
      this.api.delete<string>(this.path(vm, `/${encodeURIComponent(name)}`)),
    );
  }

  /**
   * Rolls the VM back to `name` and waits. Proxmox stops a running VM first and leaves it
   * stopped unless `start` (an HA-managed VM in state `started` is started again by the HA
   * manager either way).
   */
  async rollback(vm: VmRef, name: string, opts: { start?: boolean } = {}): Promise<void> {
    await this.task(
      vm,
      name,
      "rollback",
      this.api.post<string>(this.path(vm, `/${encodeURIComponent(name)}/rollback`), {
        ...(opts.start ? { start: "1" } : {}),
      }),
    );
  }

  /**
   * Deletes the oldest of the VM's snapshots that `ours` selects until `keep` of them are
   * left; the others (a user's own) are never touched. Returns the names deleted.
   */
  async prune(
    vm: VmRef,
    keep: number,
    ours: (s: SnapshotInfo) => boolean = (s) => isTimestamped(s.name),
  ): Promise<string[]> {
    const mine = (await this.list(vm)).filter(ours);
    const drop = mine.slice(0, Math.max(0, mine.length - keep));
    for (const s of drop) await this.remove(vm, s.name);
    return drop.map((s) => s.name);
  }

  /** What the snapshot rule needs of the VM: its config, its storages' types, whether it runs. */
  async subject(vm: VmRef, name = String(vm.vmid)): Promise<SnapshotSubject> {
    const node = encodeURIComponent(vm.node);
    const [config, storages, status] = await Promise.all([
      this.api.get<Record<string, string | number>>(`/nodes/${node}/qemu/${vm.vmid}/config`),
      this.api.get<Array<{ storage: string; type: string }>>(`/nodes/${node}/storage`),
      this.api.get<{ status: string }>(`/nodes/${node}/qemu/${vm.vmid}/status/current`),
    ]);
    return subjectFromConfig(
      name,
      config,
      new Map(storages.map((s) => [s.storage, s.type])),
      status.status === "running",
    );
  }
}
