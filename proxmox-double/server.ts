/**
 * # Proxmox VE API double
 *
 * An HTTPS server on 127.0.0.1 that answers the Proxmox VE API calls the bpg/proxmox
 * Terraform provider (v0.111.1) makes for `proxmox_virtual_environment_vm`, backed by the
 * in-memory cluster of `model/` (one module per concern), so the real provider can apply,
 * re-plan with no changes and destroy without a Proxmox VE host. Real Proxmox VE cannot run here; this is the one
 * imitation the project allows, and it aims to behave like the real API on every call the
 * provider makes.
 *
 * ## What it implements
 * - Transport: HTTPS with a self-signed certificate made at start (`insecure = true` in the
 *   provider), JSON envelope `{"data": ...}`; errors carry PVE's status line
 *   (`500 Configuration file 'nodes/pve01/qemu-server/4100.conf' does not exist`,
 *   `400 Parameter verification failed.` with per-parameter `errors`), which the provider
 *   maps to "does not exist" / "already exists" like against a real host.
 * - Auth: one API token, `Authorization: PVEAPIToken=root@pam!double=<uuid>`; anything
 *   else is 401. By default the token has every privilege; with `acl` (privileges by path)
 *   it has only those, checked from the API description's `permissions` and qemu-server's
 *   per-option checks (`acl.ts`): 403 `Permission check failed (<path>, <privilege>)`. It
 *   is not `root@pam` itself, so root-only options fail as on PVE (`hostpci` with raw
 *   `host=` IDs instead of a resource mapping, `arch`).
 * - Parameters: every request is verified against Proxmox's API description
 *   (`api-schema.json`, `api-schema.ts`) before its handler, as pve-api-daemon does.
 * - Cluster: `/version`, `/nodes`, `/cluster/status`, `/cluster/resources` (vm, node,
 *   storage, pool), `/cluster/nextid` (with and without `vmid`), `/cluster/mapping/pci`,
 *   `/pools`.
 * - HA (`model/ha.ts`): `/cluster/ha/resources` and `/cluster/ha/rules` (node and resource
 *   affinity, PVE 9's replacement of groups) with pve-ha-manager's checks and feasibility
 *   rules, `/cluster/ha/status/manager_status`, an HA manager that acts in rounds
 *   (`haRoundMs`) and lists no node on a cluster where HA was never active; start/stop of
 *   a managed VM as `hastart`/`hastop`, destroy refused without `purge`.
 * - Snapshots (`model/snapshots.ts`): create (`qmsnapshot`, with or without RAM), list,
 *   config, rollback (`qmrollback`, stopping a running VM, `start`), delete
 *   (`qmdelsnapshot`), with qemu-server's and pve-storage's rules: name format and
 *   uniqueness, which storage and format can snapshot, locks, RAM state with a PCI device,
 *   ZFS's most-recent-only rollback; `parent` and the sections in GET config.
 * - Storage: `/nodes/{n}/storage`, `.../{s}/status`, `.../{s}/content` and
 *   `.../content/{volid}` (the provider reads a disk's format there). Volumes are real
 *   objects: allocated on create/clone/`STORAGE:SIZE`/`STORAGE:cloudinit`, named like PVE
 *   (`vm-4100-disk-0`, `vm-4100-cloudinit`, `base-9000-disk-0`, `4100/vm-4100-disk-0.qcow2`
 *   on directory storages), resized, moved, migrated, freed on destroy; replaced or
 *   deleted disks become `unusedN`.
 * - Cloud images (`model/storage-content.ts`): `/nodes/{n}/query-url-metadata` (HEAD),
 *   `.../storage/{s}/download-url` (a `download` task that really fetches the URL, from
 *   loopback addresses only, checks `checksum`/`checksum-algorithm` and the image header
 *   like qemu-img, and fails with pve-storage's and pve-common's messages), the file listed
 *   as `local:import/<name>` and deleted by `DELETE .../content/{volid}` (an `imgdel`
 *   task). A disk `STORAGE:0,import-from=<volid>` gets the image's virtual size; a missing
 *   source fails the create task, as qemu-server's worker does.
 * - VMs: create (POST qemu), full and linked clone (new VM locked `clone` while the task
 *   runs, new MACs/vmgenid/smbios uuid, cross-node clone only from shared storage, else
 *   the provider's clone+migrate path), config GET/PUT/POST (option names checked against
 *   qemu-server's schema, types checked, drives and NICs normalized like qemu-server prints
 *   them, tags sorted, `delete=`), `pending`, resize (grow only, async UPID), move_disk,
 *   migrate (offline, `with-local-disks`, `targetstorage`), template, cloudinit regenerate,
 *   status/current (with `lock`), start/stop/shutdown/reboot, destroy (refused while
 *   running, locked or protected).
 * - Start-time checks like QEMU's: unknown bridge, `pcie=1` without q35, PCI mapping with no
 *   entry for the node or already used by a running VM fail the start task; OVMF without
 *   `efidisk0` ends `WARNINGS: 1`.
 * - Tasks: UPIDs in PVE's format (`UPID:node:PID:PSTART:STARTTIME:type:id:user:`), status
 *   `running` then `stopped` with `exitstatus` `OK` / `WARNINGS: n` / the error, and a log.
 *   Clones take `cloneDurationMs`, other tasks `taskDurationMs`.
 * - Guest agent: `agent/ping` and `agent/network-get-interfaces` answer
 *   `QEMU guest agent is not running` until `agentDelayMs` after start, then report `lo`
 *   and one `ens18+N` per NIC with the cloud-init static address (`ipconfigN ip=`) or a
 *   DHCP lease from the seed's pool for the NIC's bridge (stable per MAC), plus IPv6
 *   link-local.
 * - Faults (constructor, CLI flags, or `PUT /_double/faults` while it runs): the Nth clone
 *   fails (the half-made VM and its volumes are removed, as qemu-server does), every task of
 *   a type fails (`download` included), the agent never reports a routable address. A wrong
 *   checksum or a URL that answers 404 needs no fault: the client gives them.
 * - Inspection: `GET /_double/state` (VMs with their config, volumes, tasks, leases),
 *   `GET /_double/unknown` (requests to endpoints the double does not implement: they get
 *   `501 Method '...' not implemented`, PVE's answer for unknown paths, and are recorded so
 *   gaps are visible), `GET /_double/requests` (every API call, in order).
 * - Guests writing (`POST /_double/guest-writes`, `{"vms": [names or IDs]}`): the disks of
 *   those running VMs get new content, which a snapshot rollback undoes (a test hook; the
 *   stand-in Kubespray's upgrade calls it for the nodes it upgrades).
 *
 * ## Known gaps
 * - No ticket auth (`/access/ticket`), users or privilege separation; no SSH. The
 *   provider needs SSH (and so a real host) only for disks with `file_id`, cloud-init
 *   snippets (`user_data_file_id`...) and file uploads; the project's VM settings use none.
 * - No LXC containers, backups/restore (`archive`), HA groups (PVE 9 has rules), HA
 *   migrate/relocate, fencing, SDN, firewall, replication, hookscripts or live (online)
 *   migration. Snapshots as volume chains (`snapshot-as-volume-chain` on LVM), snapshot
 *   space use and a clone from a snapshot are not modelled.
 * - Config changes on a running VM apply at once; qemu-server would keep non-hotpluggable
 *   ones as pending until the next power cycle (GET config returns the new values either
 *   way, which is what the provider reads).
 * - Named formats the VM lifecycle does not use are accepted unchecked
 *   (`uncheckedFormats()` lists the ones met); `/cluster/resources` is not filtered by
 *   the token's privileges.
 * - The guest is not real: nothing boots, cloud-init user data is only stored, the agent
 *   reports addresses from the config rather than from a guest.
 * - Downloads: only from loopback URLs (others get 501); no decompression, no OVA/OVF
 *   import, ISO and VMDK contents unchecked; the downloaded bytes are not kept (only
 *   length, virtual size and checksums).
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";

import { generate } from "selfsigned";

import { Privileges } from "./acl";
import type { Acl } from "./acl";
import { ApiSchema, safeDecode } from "./api-schema";
import { PveCluster, PveError, ha } from "./model";
import type { Faults, Params, PersistedCluster, Task, Timing, VmView } from "./model";
import { resolveSeed } from "./seed";
import type { Seed, SeedInput } from "./seed";

export interface ProxmoxDoubleOptions {
  /** TCP port on 127.0.0.1. @default 0 - any free port */
  readonly port?: number;
  /** Seed file (YAML/JSON) or seed object. @default `proxmox-double/seed.default.yaml` */
  readonly seed?: string | SeedInput;
  /** Secret (UUID) of the `root@pam!double` token. @default a random UUID */
  readonly tokenSecret?: string;
  /** Faults to inject from the start. @default none */
  readonly faults?: Faults;
  /** How long a clone task runs. @default 300 */
  readonly cloneDurationMs?: number;
  /** How long other tasks run. @default 100 */
  readonly taskDurationMs?: number;
  /** Delay between a VM's start and its guest agent answering. @default 1500 */
  readonly agentDelayMs?: number;
  /** A round of the HA manager (see `Timing.haRoundMs`). @default 1000 */
  readonly haRoundMs?: number;
  /**
   * Privileges of the token by ACL path (propagating), e.g. `{"/": ["VM.Audit", ...]}` for
   * `pveum aclmod / -role ...`; requests lacking one get 403 naming it.
   * @default - the seed's `acl`, else every privilege (no ACL checks)
   */
  readonly acl?: Acl;
  /**
   * Keeps the cluster's state across restarts: read at start when it exists, written at
   * stop. @default none - the seed, every time
   */
  readonly stateFile?: string;
}

/** A request the double does not implement (answered 501). */
export interface UnknownRequest {
  readonly method: string;
  readonly path: string;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The API description's path (`/nodes/{node}/qemu/{vmid}/config`), if it has one. */
  readonly template?: string;
  /** Query and body parameters as received (path parameters not included). */
  readonly params?: Readonly<Record<string, string>>;
  /** The path as received, still URL-encoded (a volume ID in it keeps its `%2F`). */
  readonly rawPath?: string;
}

const TOKEN_ID = "root@pam!double";
/** Loaded once: the API description of every endpoint the double serves. */
let apiSchema: ApiSchema | undefined;
const API_PREFIX = "/api2/json";

type Handler = (ctx: RouteContext) => unknown;

interface RouteContext {
  readonly params: Params;
  readonly path: Record<string, string>;
  readonly cluster: PveCluster;
  /** The token's privileges; undefined: every privilege. */
  readonly privileges?: Privileges;
}

interface Route {
  readonly method: string;
  readonly regex: RegExp;
  readonly keys: readonly string[];
  readonly handler: Handler;
}

function route(method: string, pattern: string, handler: Handler): Route {
  const keys: string[] = [];
  const source = pattern
    .split("/")
    .map((seg) => {
      if (!seg.startsWith(":")) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      keys.push(seg.slice(1));
      return "([^/]+)";
    })
    .join("/");
  return { method, regex: new RegExp(`^${source}$`), keys, handler };
}

const vmid = (ctx: RouteContext): number => {
  const n = Number(ctx.path.vmid);
  if (!Number.isInteger(n))
    throw new PveError(400, "Parameter verification failed.", {
      vmid: "type check ('integer') failed",
    });
  return n;
};

/** The API routes, relative to /api2/json. */
const ROUTES: readonly Route[] = [
  route("GET", "/version", ({ cluster }) => ({
    version: cluster.seed.version,
    release: cluster.seed.version.split(".").slice(0, 2).join("."),
    repoid: "d0ub1e00",
  })),
  route("GET", "/nodes", ({ cluster }) =>
    [...cluster.nodes.values()].map((n) => ({
      node: n.name,
      id: `node/${n.name}`,
      type: "node",
      status: "online",
      level: "",
      maxcpu: n.cpus,
      cpu: 0.03,
      maxmem: n.memoryGiB * 1024 ** 3,
      mem: Math.floor(n.memoryGiB * 1024 ** 3 * 0.2),
      maxdisk: 100 * 1024 ** 3,
      disk: 10 * 1024 ** 3,
      uptime: 86_400,
    })),
  ),
  route("GET", "/nodes/:node", ({ cluster, path }) => {
    cluster.node(path.node);
    return ["qemu", "storage", "tasks", "status", "network", "query-url-metadata"].map(
      (subdir) => ({ name: subdir }),
    );
  }),
  route("GET", "/nodes/:node/query-url-metadata", ({ cluster, path, params }) =>
    cluster.queryUrlMetadata(path.node, params),
  ),
  route("GET", "/nodes/:node/status", ({ cluster, path }) => {
    const n = cluster.node(path.node);
    return {
      uptime: 86_400,
      cpu: 0.03,
      cpuinfo: { cpus: n.cpus, cores: n.cpus, sockets: 1, model: "proxmox-double vCPU" },
      memory: { total: n.memoryGiB * 1024 ** 3, used: Math.floor(n.memoryGiB * 1024 ** 3 * 0.2) },
      pveversion: `pve-manager/${cluster.seed.version}/d0ub1e00`,
      kversion: "Linux 6.8.12-9-pve",
    };
  }),
  route("GET", "/nodes/:node/qemu", ({ cluster, path }) => {
    cluster.node(path.node);
    return [...cluster.vms.values()]
      .filter((v) => v.node === path.node)
      .map((v) => {
        const entry = cluster.statusCurrent(v.node, v.vmid);
        delete entry.ha; // only status/current reports HA state
        return entry;
      });
  }),
  route("POST", "/nodes/:node/qemu", ({ cluster, path, params }) =>
    cluster.createVm(path.node, params),
  ),
  route("GET", "/nodes/:node/qemu/:vmid", (ctx) => {
    ctx.cluster.vmOn(ctx.path.node, vmid(ctx));
    return [
      "config",
      "pending",
      "status",
      "agent",
      "clone",
      "migrate",
      "resize",
      "move_disk",
      "snapshot",
    ].map((subdir) => ({ subdir }));
  }),
  route("DELETE", "/nodes/:node/qemu/:vmid", (ctx) =>
    ctx.cluster.destroy(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("GET", "/nodes/:node/qemu/:vmid/config", (ctx) =>
    ctx.params.snapshot !== undefined
      ? {
          ...ctx.cluster.snapshotConfig(ctx.path.node, vmid(ctx), ctx.params.snapshot),
          digest: ctx.cluster.digest(ctx.cluster.vmOn(ctx.path.node, vmid(ctx))),
        }
      : ctx.cluster.configJson(ctx.cluster.vmOn(ctx.path.node, vmid(ctx))),
  ),
  // Snapshots (model/snapshots.ts).
  route("GET", "/nodes/:node/qemu/:vmid/snapshot", (ctx) =>
    ctx.cluster.listSnapshots(ctx.path.node, vmid(ctx)),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/snapshot", (ctx) =>
    ctx.cluster.createSnapshot(ctx.path.node, vmid(ctx), ctx.params),
  ),
  // qemu-server answers the index without reading the VM.
  route("GET", "/nodes/:node/qemu/:vmid/snapshot/:snapname", () => [
    { cmd: "rollback" },
    { cmd: "config" },
  ]),
  route("DELETE", "/nodes/:node/qemu/:vmid/snapshot/:snapname", (ctx) =>
    ctx.cluster.deleteSnapshot(ctx.path.node, vmid(ctx), ctx.path.snapname),
  ),
  route("GET", "/nodes/:node/qemu/:vmid/snapshot/:snapname/config", (ctx) =>
    ctx.cluster.snapshotConfig(ctx.path.node, vmid(ctx), ctx.path.snapname),
  ),
  route("PUT", "/nodes/:node/qemu/:vmid/snapshot/:snapname/config", (ctx) =>
    ctx.cluster.updateSnapshotConfig(ctx.path.node, vmid(ctx), ctx.path.snapname, ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/snapshot/:snapname/rollback", (ctx) =>
    ctx.cluster.rollback(ctx.path.node, vmid(ctx), ctx.path.snapname, ctx.params),
  ),
  route("PUT", "/nodes/:node/qemu/:vmid/config", (ctx) =>
    ctx.cluster.updateConfig(ctx.path.node, vmid(ctx), ctx.params, false),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/config", (ctx) =>
    ctx.cluster.updateConfig(ctx.path.node, vmid(ctx), ctx.params, true),
  ),
  route("GET", "/nodes/:node/qemu/:vmid/pending", (ctx) => {
    const json = ctx.cluster.configJson(ctx.cluster.vmOn(ctx.path.node, vmid(ctx)));
    return Object.entries(json)
      .filter(([k]) => k !== "digest")
      .map(([key, value]) => ({ key, value }));
  }),
  route("PUT", "/nodes/:node/qemu/:vmid/resize", (ctx) =>
    ctx.cluster.resize(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/clone", (ctx) =>
    ctx.cluster.clone(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/migrate", (ctx) =>
    ctx.cluster.migrate(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/move_disk", (ctx) =>
    ctx.cluster.moveDisk(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/move-disk", (ctx) =>
    ctx.cluster.moveDisk(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/template", (ctx) =>
    ctx.cluster.convertToTemplate(ctx.path.node, vmid(ctx)),
  ),
  route("PUT", "/nodes/:node/qemu/:vmid/cloudinit", (ctx) => {
    ctx.cluster.vmOn(ctx.path.node, vmid(ctx));
    return null;
  }),
  route("GET", "/nodes/:node/qemu/:vmid/cloudinit", (ctx) => {
    ctx.cluster.vmOn(ctx.path.node, vmid(ctx));
    return [];
  }),
  route("GET", "/nodes/:node/qemu/:vmid/status", (ctx) => {
    ctx.cluster.vmOn(ctx.path.node, vmid(ctx));
    return ["current", "start", "stop", "shutdown", "reboot"].map((subdir) => ({ subdir }));
  }),
  route("GET", "/nodes/:node/qemu/:vmid/status/current", (ctx) =>
    ctx.cluster.statusCurrent(ctx.path.node, vmid(ctx)),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/status/start", (ctx) =>
    ctx.cluster.start(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/status/stop", (ctx) =>
    ctx.cluster.stop(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/status/shutdown", (ctx) =>
    ctx.cluster.shutdown(ctx.path.node, vmid(ctx), ctx.params),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/status/reboot", (ctx) =>
    ctx.cluster.reboot(ctx.path.node, vmid(ctx)),
  ),
  route("POST", "/nodes/:node/qemu/:vmid/agent/ping", (ctx) =>
    ctx.cluster.agentPing(ctx.path.node, vmid(ctx)),
  ),
  route("GET", "/nodes/:node/qemu/:vmid/agent/network-get-interfaces", (ctx) =>
    ctx.cluster.agentInterfaces(ctx.path.node, vmid(ctx)),
  ),
  // The networks of a node: its bridges (VLAN aware or not), as System > Network lists them.
  route("GET", "/nodes/:node/network", ({ cluster, path }) =>
    cluster.node(path.node).bridges.map((iface) => ({
      iface,
      type: "bridge",
      active: 1,
      autostart: 1,
      bridge_vlan_aware: cluster.node(path.node).vlanAwareBridges.includes(iface) ? 1 : 0,
      families: ["inet"],
      method: "manual",
    })),
  ),
  route("GET", "/nodes/:node/tasks", ({ cluster, path }) => {
    cluster.node(path.node);
    return [...cluster.tasks.values()].filter((t) => t.node === path.node).map(taskListEntry);
  }),
  route("GET", "/nodes/:node/tasks/:upid", ({ cluster, path }) => {
    cluster.task(path.node, path.upid);
    return [{ name: "log" }, { name: "status" }];
  }),
  route("DELETE", "/nodes/:node/tasks/:upid", ({ cluster, path }) => {
    cluster.stopTask(path.node, path.upid);
    return null;
  }),
  route("GET", "/nodes/:node/tasks/:upid/status", ({ cluster, path }) =>
    taskStatus(cluster.task(path.node, path.upid)),
  ),
  route("GET", "/nodes/:node/tasks/:upid/log", ({ cluster, path }) =>
    cluster.task(path.node, path.upid).log.map((t, i) => ({ n: i + 1, t })),
  ),
  route("GET", "/nodes/:node/storage", ({ cluster, path }) => {
    cluster.node(path.node);
    return cluster.storagesOf(path.node);
  }),
  route("GET", "/nodes/:node/storage/:storage", ({ cluster, path }) => {
    cluster.storageOn(path.node, path.storage);
    return ["content", "status"].map((subdir) => ({ subdir }));
  }),
  route("GET", "/nodes/:node/storage/:storage/status", ({ cluster, path }) =>
    cluster.storageStatus(path.node, path.storage),
  ),
  route("GET", "/nodes/:node/storage/:storage/content", ({ cluster, path, params }) =>
    cluster
      .storageContent(path.node, path.storage)
      .filter((v) => params.vmid === undefined || String(v.vmid) === params.vmid)
      .filter((v) => params.content === undefined || v.content === params.content),
  ),
  route("GET", "/nodes/:node/storage/:storage/content/:volume", ({ cluster, path }) =>
    cluster.volumeInfo(path.node, path.storage, path.volume),
  ),
  route("DELETE", "/nodes/:node/storage/:storage/content/:volume", ({ cluster, path, params }) =>
    cluster.deleteVolume(
      path.node,
      path.storage,
      path.volume,
      params.delay === undefined ? undefined : Number(params.delay),
    ),
  ),
  route("POST", "/nodes/:node/storage/:storage/download-url", ({ cluster, path, params }) =>
    cluster.downloadUrl(path.node, path.storage, params),
  ),
  // What the token may do, by ACL path (its own permissions: no privilege needed).
  route("GET", "/access/permissions", ({ privileges }) =>
    (privileges ?? Privileges.everything()).byPath(),
  ),
  route("GET", "/cluster/nextid", ({ cluster, params }) => cluster.nextId(params.vmid)),
  route("GET", "/cluster/status", ({ cluster }) => [
    {
      type: "cluster",
      id: "cluster",
      name: cluster.seed.clusterName,
      nodes: cluster.nodes.size,
      quorate: cluster.seed.quorate ? 1 : 0,
      version: cluster.nodes.size + 1,
    },
    ...[...cluster.nodes.values()].map((n, i) => ({
      type: "node",
      id: `node/${n.name}`,
      name: n.name,
      nodeid: i + 1,
      ip: n.ip ?? `192.0.2.${i + 10}`,
      online: 1,
      local: i === 0 ? 1 : 0,
      level: "",
    })),
  ]),
  route("GET", "/cluster/resources", ({ cluster, params }) =>
    clusterResources(cluster, params.type),
  ),
  route("GET", "/cluster/mapping/pci", ({ cluster }) =>
    [...cluster.pciMappings.values()].map(pciMappingJson),
  ),
  route("GET", "/cluster/mapping/pci/:id", ({ cluster, path }) => {
    const m = cluster.pciMappings.get(path.id);
    if (!m) throw new PveError(500, `PCI mapping '${path.id}' does not exist`);
    return pciMappingJson(m);
  }),
  // HA (model/ha.ts).
  route("GET", "/cluster/ha/resources", ({ cluster, params }) => ha.listResources(cluster, params)),
  route("POST", "/cluster/ha/resources", ({ cluster, params }) =>
    ha.createResource(cluster, params),
  ),
  route("GET", "/cluster/ha/resources/:sid", ({ cluster, path }) =>
    ha.getResource(cluster, path.sid),
  ),
  route("PUT", "/cluster/ha/resources/:sid", ({ cluster, path, params }) =>
    ha.updateResource(cluster, path.sid, params),
  ),
  route("DELETE", "/cluster/ha/resources/:sid", ({ cluster, path, params }) =>
    ha.deleteResource(cluster, path.sid, params),
  ),
  route("GET", "/cluster/ha/rules", ({ cluster, params }) => ha.listRules(cluster, params)),
  route("POST", "/cluster/ha/rules", ({ cluster, params }) => ha.createRule(cluster, params)),
  route("GET", "/cluster/ha/rules/:rule", ({ cluster, path }) => ha.getRule(cluster, path.rule)),
  route("PUT", "/cluster/ha/rules/:rule", ({ cluster, path, params }) =>
    ha.updateRule(cluster, path.rule, params),
  ),
  route("DELETE", "/cluster/ha/rules/:rule", ({ cluster, path }) =>
    ha.deleteRule(cluster, path.rule),
  ),
  route("GET", "/cluster/ha/status/manager_status", ({ cluster }) => ha.managerStatus(cluster)),
  route("GET", "/pools", ({ cluster, params }) => {
    if (params.poolid === undefined) {
      return [...cluster.pools].map(([poolid, p]) => ({
        poolid,
        ...(p.comment ? { comment: p.comment } : {}),
      }));
    }
    const pool = cluster.pools.get(params.poolid);
    if (!pool) throw new PveError(500, `pool '${params.poolid}' does not exist`);
    return [poolJson(cluster, params.poolid)];
  }),
  route("GET", "/pools/:poolid", ({ cluster, path }) => {
    if (!cluster.pools.has(path.poolid))
      throw new PveError(500, `pool '${path.poolid}' does not exist`);
    return poolJson(cluster, path.poolid);
  }),
];

function taskStatus(t: Task): Record<string, unknown> {
  return {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    user: t.user,
    status: t.status,
    ...(t.exitstatus !== undefined ? { exitstatus: t.exitstatus } : {}),
  };
}

function taskListEntry(t: Task): Record<string, unknown> {
  return {
    upid: t.upid,
    node: t.node,
    pid: t.pid,
    pstart: t.pstart,
    starttime: t.starttime,
    type: t.type,
    id: t.id,
    user: t.user,
    ...(t.status === "stopped" ? { status: t.exitstatus, endtime: t.endtime } : {}),
  };
}

function pciMappingJson(m: Seed["pciMappings"][number]): Record<string, unknown> {
  return {
    id: m.id,
    ...(m.description ? { description: m.description } : {}),
    map: m.map.map((e) =>
      [
        `node=${e.node}`,
        `path=${e.path}`,
        `id=${e.id}`,
        ...(e.subsystemId ? [`subsystem-id=${e.subsystemId}`] : []),
        ...(e.iommugroup !== undefined ? [`iommugroup=${e.iommugroup}`] : []),
      ].join(","),
    ),
  };
}

function poolJson(cluster: PveCluster, poolid: string): Record<string, unknown> {
  const pool = cluster.pools.get(poolid);
  return {
    poolid,
    ...(pool?.comment ? { comment: pool.comment } : {}),
    members: [...(pool?.members ?? [])].flatMap((id) => {
      const vm = cluster.vms.get(id);
      if (!vm) return [];
      return [
        {
          id: `qemu/${id}`,
          type: "qemu",
          vmid: id,
          node: vm.node,
          name: vm.config.get("name") ?? "",
          status: vm.status,
          template: cluster.isTemplate(vm) ? 1 : 0,
        },
      ];
    }),
  };
}

function clusterResources(
  cluster: PveCluster,
  type: string | undefined,
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  if (type === undefined || type === "vm") {
    for (const vm of cluster.vms.values()) {
      const s = cluster.statusCurrent(vm.node, vm.vmid);
      const pool = [...cluster.pools].find(([, p]) => p.members.has(vm.vmid))?.[0];
      out.push({
        id: `qemu/${vm.vmid}`,
        type: "qemu",
        vmid: vm.vmid,
        node: vm.node,
        name: s.name,
        status: vm.status,
        template: cluster.isTemplate(vm) ? 1 : 0,
        maxcpu: s.cpus,
        cpu: s.cpu,
        maxmem: s.maxmem,
        mem: s.mem,
        maxdisk: s.maxdisk,
        disk: 0,
        uptime: s.uptime,
        netin: 0,
        netout: 0,
        diskread: 0,
        diskwrite: 0,
        ...(s.tags !== undefined ? { tags: s.tags } : {}),
        ...(s.lock !== undefined ? { lock: s.lock } : {}),
        ...(pool !== undefined ? { pool } : {}),
        ...((s.ha as { state?: string }).state !== undefined
          ? { hastate: (s.ha as { state?: string }).state }
          : {}),
      });
    }
  }
  if (type === undefined || type === "node") {
    for (const n of cluster.nodes.values()) {
      out.push({
        id: `node/${n.name}`,
        type: "node",
        node: n.name,
        status: "online",
        level: "",
        "cgroup-mode": 2,
        maxcpu: n.cpus,
        cpu: 0.03,
        maxmem: n.memoryGiB * 1024 ** 3,
        mem: Math.floor(n.memoryGiB * 1024 ** 3 * 0.2),
        maxdisk: 100 * 1024 ** 3,
        disk: 10 * 1024 ** 3,
        uptime: 86_400,
      });
    }
  }
  if (type === undefined || type === "storage") {
    for (const n of cluster.nodes.values()) {
      for (const s of cluster.storagesOf(n.name)) {
        out.push({
          id: `storage/${n.name}/${String(s.storage)}`,
          type: "storage",
          node: n.name,
          storage: s.storage,
          status: "available",
          plugintype: s.type,
          content: s.content,
          shared: s.shared,
          maxdisk: s.total,
          disk: s.used,
        });
      }
    }
  }
  if (type === undefined || type === "pool") {
    for (const id of cluster.pools.keys()) out.push({ id: `/pool/${id}`, type: "pool", pool: id });
  }
  return out;
}

function oneLine(s: string): string {
  return s
    .replace(/[\r\n]+/g, " ")
    .replace(/[^\t\x20-\x7e]/g, "?")
    .trim();
}

function send(res: ServerResponse, status: number, body: unknown, statusMessage?: string): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  if (statusMessage !== undefined) res.statusMessage = oneLine(statusMessage);
  res.setHeader("Content-Type", "application/json;charset=UTF-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.setHeader("Cache-Control", "max-age=0");
  res.setHeader("Server", "pve-api-daemon/3.0");
  res.end(text);
}

function sendError(res: ServerResponse, err: PveError): void {
  const body: Record<string, unknown> = { data: null, message: `${err.message}\n` };
  if (err.errors) body.errors = err.errors;
  send(res, err.status, body, err.message);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolvePromise(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Form or JSON body, as strings (booleans become 1/0 like PVE's parameter parser). */
function parseBody(text: string, contentType: string | undefined): Params {
  const out: Params = {};
  if (text.trim() === "") return out;
  if ((contentType ?? "").includes("application/json")) {
    const obj = JSON.parse(text) as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (v === null || v === undefined) continue;
      out[k] =
        typeof v === "boolean"
          ? v
            ? "1"
            : "0"
          : typeof v === "object"
            ? JSON.stringify(v)
            : String(v);
    }
    return out;
  }
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}

export class ProxmoxDouble {
  /** `root@pam!double=<uuid>`, the value for `api_token` / PROXMOX_VE_API_TOKEN. */
  readonly token: string;
  /** PEM of the self-signed server certificate. */
  readonly certificate: string;
  private readonly unknown: UnknownRequest[] = [];
  /** Undefined: every privilege. */
  privileges: Privileges | undefined;
  private readonly log: RequestRecord[] = [];

  private constructor(
    private readonly server: Server,
    /** The in-memory cluster (tests may inspect it directly); replaced by restart(). */
    public cluster: PveCluster,
    private readonly stateFile: string | undefined,
    token: string,
    certificate: string,
  ) {
    this.token = token;
    this.certificate = certificate;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `https://127.0.0.1:PORT/`, the value for the provider's `endpoint`. */
  get endpoint(): string {
    return `https://127.0.0.1:${this.port}/`;
  }

  static async start(opts: ProxmoxDoubleOptions = {}): Promise<ProxmoxDouble> {
    const seed = resolveSeed(opts.seed);
    const secret = opts.tokenSecret ?? randomUUID();
    if (!/^[a-zA-Z0-9-]+$/.test(secret))
      throw new Error(`tokenSecret must be a UUID-like string, got '${secret}'`);
    const token = `${TOKEN_ID}=${secret}`;
    const cluster = new PveCluster(
      seed,
      {
        cloneDurationMs: opts.cloneDurationMs ?? 300,
        taskDurationMs: opts.taskDurationMs ?? 100,
        agentDelayMs: opts.agentDelayMs ?? 1500,
        haRoundMs: opts.haRoundMs ?? 1000,
      },
      opts.faults ?? {},
      TOKEN_ID,
    );
    const pems = await generate([{ name: "commonName", value: "proxmox-double.localhost" }], {
      keySize: 2048,
      algorithm: "sha256",
      notAfterDate: new Date(Date.now() + 30 * 86_400_000),
      extensions: [
        { name: "basicConstraints", cA: false },
        {
          name: "subjectAltName",
          altNames: [
            { type: 2, value: "localhost" },
            { type: 7, ip: "127.0.0.1" },
          ],
        },
      ],
    });
    const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      // Requests only arrive once listen() below has returned and `double` exists.
      double.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent)
          sendError(res, new PveError(500, `proxmox-double: ${(e as Error).message}`));
      });
    });
    if (opts.stateFile !== undefined && existsSync(opts.stateFile))
      cluster.restore(JSON.parse(readFileSync(opts.stateFile, "utf8")) as PersistedCluster);
    const double: ProxmoxDouble = new ProxmoxDouble(
      server,
      cluster,
      opts.stateFile,
      token,
      pems.cert,
    );
    const acl = opts.acl ?? seed.acl;
    if (acl) double.setAcl(acl);
    await new Promise<void>((resolvePromise, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolvePromise();
      });
    });
    return double;
  }

  /** All VMs (templates included) with their config, sorted by ID. */
  vms(): VmView[] {
    return [...this.cluster.vms.values()]
      .sort((a, b) => a.vmid - b.vmid)
      .map((v) => this.cluster.vmView(v));
  }

  vm(vmid: number): VmView | undefined {
    const vm = this.cluster.vms.get(vmid);
    return vm ? this.cluster.vmView(vm) : undefined;
  }

  tasks(): Task[] {
    return [...this.cluster.tasks.values()];
  }

  /** Requests the double does not implement (each got a 501). */
  unknownRequests(): readonly UnknownRequest[] {
    return [...this.unknown];
  }

  /** Every API request, in order, with the status it got. */
  requests(): readonly RequestRecord[] {
    return [...this.log];
  }

  /** Replaces the token's privileges (`undefined`: every privilege). */
  setAcl(acl: Acl | undefined): void {
    this.privileges = acl === undefined ? undefined : new Privileges(acl);
  }

  get faults(): Faults {
    return this.cluster.faults;
  }

  setFaults(faults: Faults): void {
    this.cluster.faults = { ...faults };
  }

  /**
   * Changes how long the tasks started from now on take (a test that looks at a task while
   * it runs makes it last longer than a request takes on a busy machine).
   */
  setTiming(timing: Partial<Timing>): void {
    Object.assign(this.cluster.timing as { -readonly [K in keyof Timing]: Timing[K] }, timing);
  }

  /** Everything `/_double/state` returns. */
  state(): Record<string, unknown> {
    return {
      endpoint: this.endpoint,
      vms: this.vms(),
      volumes: [...this.cluster.volumes.values()].map((v) => ({
        volid: `${v.storage}:${v.name}`,
        node: v.scope,
        vmid: v.vmid,
        size: v.size,
        format: v.format,
      })),
      tasks: this.tasks().map(taskStatus),
      leases: Object.fromEntries(this.cluster.leases),
      faults: this.faults,
      unknown: this.unknown,
    };
  }

  async stop(): Promise<void> {
    this.cluster.dispose();
    if (this.stateFile !== undefined)
      writeFileSync(this.stateFile, JSON.stringify(this.cluster.snapshot()));
    await new Promise<void>((resolvePromise) => {
      this.server.close(() => resolvePromise());
      this.server.closeAllConnections();
    });
  }

  /**
   * Stops and starts again on the same port with the same token, keeping the VMs, volumes,
   * pools and leases (through the state file, if any) but no task: a Proxmox host rebooted.
   */
  async restart(): Promise<void> {
    const port = this.port;
    const saved = JSON.stringify(this.cluster.snapshot());
    await this.stop();
    const old = this.cluster;
    this.cluster = new PveCluster(old.seed, old.timing, old.faults, old.user);
    this.cluster.restore(
      JSON.parse(
        this.stateFile !== undefined ? readFileSync(this.stateFile, "utf8") : saved,
      ) as PersistedCluster,
    );
    await new Promise<void>((resolvePromise, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolvePromise();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const method = (req.method ?? "GET").toUpperCase();
    const bodyText = await readBody(req);

    if (url.pathname.startsWith("/_double/"))
      return this.control(method, url.pathname, bodyText, res);

    if (!url.pathname.startsWith(`${API_PREFIX}/`)) {
      return send(res, 404, { data: null }, "Not Found");
    }
    // Routes match the still-encoded path (a volume ID may hold an encoded '/'); captured
    // segments are decoded one by one.
    const rawPath = url.pathname.slice(API_PREFIX.length).replace(/\/+$/, "") || "/";
    const path = rawPath.split("/").map(safeDecode).join("/");

    // Recorded by their API path, as every other request.
    const auth = req.headers.authorization;
    if (auth === undefined)
      return this.reply(method, path, res, new PveError(401, "No ticket"), undefined, { rawPath });
    if (auth !== `PVEAPIToken=${this.token}`) {
      const refused = new PveError(401, "invalid token value!");
      return this.reply(method, path, res, refused, undefined, { rawPath });
    }
    let params: Params;
    try {
      params = {
        ...Object.fromEntries(url.searchParams),
        ...parseBody(bodyText, req.headers["content-type"]),
      };
    } catch {
      return this.reply(
        method,
        path,
        res,
        new PveError(400, "Parameter verification failed.", { body: "invalid body" }),
      );
    }

    // Like pve-api-daemon: parameters (path ones included) are verified before a handler.
    apiSchema ??= ApiSchema.load();
    const endpoint = apiSchema.endpoint(method, rawPath);
    const record = { template: endpoint?.template, params, rawPath };
    if (endpoint) {
      const all = { ...params, ...endpoint.pathParams };
      // pve-api-daemon checks the method's permissions first, then verifies parameters.
      const forbidden = this.privileges?.checkSchema(endpoint.schema.permissions, all);
      if (forbidden) return this.reply(method, path, res, forbidden, undefined, record);
      const errors = ApiSchema.verify(endpoint.schema, all);
      if (Object.keys(errors).length > 0) {
        return this.reply(
          method,
          path,
          res,
          new PveError(400, "Parameter verification failed.", errors),
          undefined,
          record,
        );
      }
      const refused = this.privileges?.checkHandler(method, endpoint.template, all);
      if (refused) return this.reply(method, path, res, refused, undefined, record);
    }

    for (const r of ROUTES) {
      if (r.method !== method) continue;
      const m = r.regex.exec(rawPath);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      r.keys.forEach((k, i) => (pathParams[k] = safeDecode(m[i + 1])));
      try {
        const data = await r.handler({
          params,
          path: pathParams,
          cluster: this.cluster,
          privileges: this.privileges,
        });
        return this.reply(method, path, res, undefined, data ?? null, record);
      } catch (e) {
        if (e instanceof PveError) return this.reply(method, path, res, e, undefined, record);
        throw e;
      }
    }
    this.unknown.push({ method, path });
    return this.reply(
      method,
      path,
      res,
      new PveError(501, `Method '${method} ${path}' not implemented`),
      undefined,
      record,
    );
  }

  private reply(
    method: string,
    path: string,
    res: ServerResponse,
    err?: PveError,
    data?: unknown,
    extra?: Pick<RequestRecord, "template" | "params" | "rawPath">,
  ): void {
    this.log.push({ method, path, status: err ? err.status : 200, ...extra });
    if (err) return sendError(res, err);
    send(res, 200, { data });
  }

  /** Test-only control API (no auth; the server listens on loopback only). */
  private control(method: string, path: string, body: string, res: ServerResponse): void {
    if (method === "GET" && path === "/_double/state") return send(res, 200, this.state());
    if (method === "GET" && path === "/_double/unknown") return send(res, 200, this.unknown);
    if (method === "GET" && path === "/_double/requests") return send(res, 200, this.log);
    if (path === "/_double/faults") {
      if (method === "GET") return send(res, 200, this.faults);
      if (method === "PUT" || method === "POST" || method === "PATCH") {
        let faults: Faults;
        try {
          faults = JSON.parse(body || "{}") as Faults;
        } catch (e) {
          return send(res, 400, { error: `invalid JSON: ${(e as Error).message}` });
        }
        this.setFaults(method === "PATCH" ? { ...this.faults, ...faults } : faults);
        return send(res, 200, this.faults);
      }
    }
    if (method === "POST" && path === "/_double/guest-writes") {
      let vms: unknown;
      try {
        vms = (JSON.parse(body || "{}") as { vms?: unknown }).vms;
      } catch (e) {
        return send(res, 400, { error: `invalid JSON: ${(e as Error).message}` });
      }
      if (!Array.isArray(vms)) return send(res, 400, { error: 'expected {"vms": [names or IDs]}' });
      return send(res, 200, { written: this.cluster.guestWrites(vms as (string | number)[]) });
    }
    send(res, 404, { error: `unknown control endpoint ${method} ${path}` });
  }
}
