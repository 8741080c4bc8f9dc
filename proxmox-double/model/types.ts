/** The cluster's data: what a VM, a volume, a task is, and what a test can set. */

/** Request parameters (query string and form body merged), all strings like on the wire. */
export type Params = Record<string, string>;

/** Faults a test can inject; all can be changed while the double runs. */
export interface Faults {
  /** 1-based ordinals of clone requests (counted since start) whose clone task fails. */
  readonly failClones?: readonly number[];
  /**
   * Task types (`qmclone`, `qmstart`, `resize`, `qmdestroy`, `download`...) whose tasks end
   * in error.
   */
  readonly failTasks?: readonly string[];
  /** VM IDs whose guest agent never reports a routable address (`true`: every VM). */
  readonly agentNoAddress?: boolean | readonly number[];
}

export interface Timing {
  /** How long a clone task runs (the new VM is locked `clone` meanwhile). @default 300 */
  readonly cloneDurationMs: number;
  /** How long other tasks (start, stop, resize, destroy...) run. @default 100 */
  readonly taskDurationMs: number;
  /** How long after a VM starts its guest agent begins to answer. @default 1500 */
  readonly agentDelayMs: number;
  /**
   * A round of the HA manager: how long after the first HA resource it becomes active (and
   * lists the nodes), and how often it starts or stops HA resources to their state.
   * @default 1000
   */
  readonly haRoundMs?: number;
}

export interface Task {
  readonly upid: string;
  readonly node: string;
  readonly type: string;
  readonly id: string;
  readonly user: string;
  readonly pid: number;
  readonly pstart: number;
  readonly starttime: number;
  status: "running" | "stopped";
  exitstatus?: string;
  endtime?: number;
  readonly log: string[];
}

export interface Volume {
  readonly storage: string;
  /** Node name, or `*` for a shared storage. */
  readonly scope: string;
  name: string;
  /** The owning VM; 0 for files that belong to none (`import/`, `iso/`). */
  readonly vmid: number;
  /** Bytes: a disk's size, or a file's length for `import`/`iso` content. */
  size: number;
  /** What an image file holds (a qcow2's virtual size), when that differs from `size`. */
  readonly virtualSize?: number;
  /** Hex digests of a downloaded file by algorithm (`sha256`...), as `*sum` would print. */
  readonly checksums?: Readonly<Record<string, string>>;
  readonly format: string;
  readonly content: string;
  readonly ctime: number;
  /**
   * What the volume holds, as an identity for tests (`E2eEnvironment.vmIdentities`): new
   * for a volume allocated blank, cloned or imported, kept by a move or a migration, which
   * copy the data; changed by the guest writing to it (`PveCluster.guestWrites`), and
   * brought back by a snapshot rollback. Not part of any API answer.
   */
  dataId?: string;
  /** The storage's snapshots of this volume, oldest first (`model/snapshots.ts`). */
  snapshots?: VolumeSnapshot[];
}

/**
 * A storage-level snapshot of a volume: its name, and the volume's size and content
 * (`dataId`) when taken, which a rollback brings back.
 */
export interface VolumeSnapshot {
  readonly name: string;
  readonly size: number;
  readonly dataId?: string;
}

/** PveCluster.snapshot(): plain JSON. */
export interface PersistedCluster {
  readonly vms: {
    vmid: number;
    node: string;
    status: "running" | "stopped";
    config: [string, string][];
    /** Snapshot sections by name, each a config like `config`. */
    snapshots?: [string, [string, string][]][];
  }[];
  readonly volumes: [string, Volume][];
  readonly pools: { id: string; comment?: string; members: number[] }[];
  readonly leases: [string, string][];
  readonly cloneCount: number;
  /** HA resources, rules and the HA manager's node list (`model/ha.ts`). */
  readonly ha?: PersistedHa;
}

export interface PersistedHa {
  readonly resources: [string, Record<string, string>][];
  readonly rules: [string, Record<string, string>][];
  readonly managerNodes: string[];
}

export interface Vm {
  readonly vmid: number;
  node: string;
  /** qemu-server config, values as in the .conf file (`lock` and `parent` included). */
  readonly config: Map<string, string>;
  /**
   * The `[snapname]` sections of the .conf file: each a copy of the config when it was
   * taken, with `snaptime`, `description`, `vmstate`, `snapstate` and `parent` (in order of
   * creation).
   */
  snapshots?: Map<string, Map<string, string>>;
  status: "running" | "stopped";
  startedAt?: number;
  agentReadyAt?: number;
  pid?: number;
}

/** A VM as tests and `/_double/state` see it. */
export interface VmView {
  readonly vmid: number;
  readonly node: string;
  readonly status: "running" | "stopped";
  readonly lock?: string;
  readonly config: Record<string, string>;
  /** Its snapshots by name, each the config it saved. */
  readonly snapshots: Record<string, Record<string, string>>;
}
