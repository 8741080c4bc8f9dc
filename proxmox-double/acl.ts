/**
 * Privileges of the double's token, checked like Proxmox VE does: first the method's
 * `permissions` from the API description (before its parameters are even verified), then
 * the per-option checks qemu-server makes in its handlers (`check_vm_modify_config_perm`,
 * storage allocation, bridge and PCI-mapping use). A refusal is `403 Permission check
 * failed (<path>, <privilege>)`, naming what is missing.
 *
 * An ACL maps paths (`/`, `/vms/4100`, `/storage/local-lvm`...) to privileges; as with
 * `pveum aclmod ... -propagate 1`, a privilege on a path holds for everything below it.
 */
import type { Permissions } from "./api-schema";
import { CREATE_CONTROL_PARAMS, PveError, UPDATE_CONTROL_PARAMS } from "./model";
import { parseDrive, parseNet, parseProps } from "./property-string";

/** ACL path → privileges granted there (and below). */
export type Acl = Readonly<Record<string, readonly string[]>>;

type Params = Readonly<Record<string, string>>;

const denied = (what: string): PveError => new PveError(403, `Permission check failed (${what})`);

/** Every privilege of Proxmox VE 9 (`pveum role list` of Administrator). */
export const ALL_PRIVILEGES: readonly string[] = [
  "Datastore.Allocate",
  "Datastore.AllocateSpace",
  "Datastore.AllocateTemplate",
  "Datastore.Audit",
  "Group.Allocate",
  "Mapping.Audit",
  "Mapping.Modify",
  "Mapping.Use",
  "Permissions.Modify",
  "Pool.Allocate",
  "Pool.Audit",
  "Realm.Allocate",
  "Realm.AllocateUser",
  "SDN.Allocate",
  "SDN.Audit",
  "SDN.Use",
  "Sys.AccessNetwork",
  "Sys.Audit",
  "Sys.Console",
  "Sys.Incoming",
  "Sys.Modify",
  "Sys.PowerMgmt",
  "Sys.Syslog",
  "User.Modify",
  "VM.Allocate",
  "VM.Audit",
  "VM.Backup",
  "VM.Clone",
  "VM.Config.CDROM",
  "VM.Config.CPU",
  "VM.Config.Cloudinit",
  "VM.Config.Disk",
  "VM.Config.HWType",
  "VM.Config.Memory",
  "VM.Config.Network",
  "VM.Config.Options",
  "VM.Console",
  "VM.GuestAgent.Audit",
  "VM.GuestAgent.FileRead",
  "VM.GuestAgent.FileSystemMgmt",
  "VM.GuestAgent.FileWrite",
  "VM.GuestAgent.Unrestricted",
  "VM.Migrate",
  "VM.PowerMgmt",
  "VM.Replicate",
  "VM.Snapshot",
  "VM.Snapshot.Rollback",
];

/** The privileges a token holds, by ACL path. */
export class Privileges {
  constructor(private readonly acl: Acl) {}

  /** A token without privilege separation of root@pam: everything on `/`. */
  static everything(): Privileges {
    return new Privileges({ "/": ALL_PRIVILEGES });
  }

  /** `GET /access/permissions`: privileges by path, each `1` (propagating). */
  byPath(): Record<string, Record<string, number>> {
    return Object.fromEntries(
      Object.entries(this.acl).map(([path, privs]) => [
        path,
        Object.fromEntries(privs.map((p) => [p, 1])),
      ]),
    );
  }

  /** Whether `priv` is granted on `path` or one of its parents. */
  has(path: string, priv: string): boolean {
    const parts = path.split("/").filter((p) => p !== "");
    for (let i = parts.length; i >= 0; i--) {
      const p = `/${parts.slice(0, i).join("/")}`;
      if (this.acl[p]?.includes(priv)) return true;
    }
    return false;
  }

  /** Undefined when allowed; else the 403 PVE raises (`check` / `check_any`). */
  check(path: string, privs: readonly string[], any = false): PveError | undefined {
    if (any)
      return privs.some((p) => this.has(path, p))
        ? undefined
        : denied(`${path}, ${privs.join("|")}`);
    const missing = privs.find((p) => !this.has(path, p));
    return missing === undefined ? undefined : denied(`${path}, ${missing}`);
  }

  /** The method's `permissions` from the API description, evaluated for `params`. */
  checkSchema(perms: Permissions | null | undefined, params: Params): PveError | undefined {
    if (!perms || perms.user === "all" || perms.check === undefined) return undefined;
    return this.evaluate(perms.check, params);
  }

  private evaluate(expr: readonly unknown[], params: Params): PveError | undefined {
    const [op, ...rest] = expr;
    if (op === "and") {
      for (const e of rest) {
        const err = this.evaluate(e as unknown[], params);
        if (err) return err;
      }
      return undefined;
    }
    if (op === "or") {
      let first: PveError | undefined;
      for (const e of rest) {
        const err = this.evaluate(e as unknown[], params);
        if (!err) return undefined;
        first ??= err;
      }
      return first;
    }
    if (op === "perm") {
      const [template, privs, ...opts] = rest as [string, string[], ...unknown[]];
      const option = (name: string): unknown => {
        const i = opts.indexOf(name);
        return i < 0 ? undefined : opts[i + 1];
      };
      const required = option("require_param");
      if (typeof required === "string" && params[required] === undefined) {
        return denied(`${template}, ${privs.join("|")}`);
      }
      const path = template.replace(/\{([^}]+)\}/g, (_, k: string) => params[k] ?? "");
      return this.check(path, privs, option("any") === 1);
    }
    // Checks the double does not model (userid-*, group-*...) are treated as granted.
    return undefined;
  }

  /**
   * The checks qemu-server's handlers add for `template` (an API path): per-option config
   * privileges, space on storages that get new volumes, bridges (SDN.Use), PCI mappings.
   */
  checkHandler(method: string, template: string, params: Params): PveError | undefined {
    const vmPath = `/vms/${params.vmid ?? params.newid ?? ""}`;
    const storage = (id: string | undefined): PveError | undefined =>
      id === undefined ? undefined : this.check(`/storage/${id}`, ["Datastore.AllocateSpace"]);
    if (
      (method === "POST" && template === "/nodes/{node}/qemu") ||
      ((method === "PUT" || method === "POST") && template === "/nodes/{node}/qemu/{vmid}/config")
    ) {
      const keys = Object.keys(params).filter((k) => !CONTROL.has(k));
      const deletes = (params.delete ?? "").split(/[,;\s]+/).filter((k) => k !== "");
      for (const key of [...keys, ...deletes]) {
        const priv = configPrivilege(key, params[key]);
        const err = priv === undefined ? undefined : this.check(vmPath, [priv]);
        if (err) return err;
      }
      for (const key of keys) {
        const err = this.checkOptionResources(key, params[key]);
        if (err) return err;
      }
      return undefined;
    }
    if (method === "DELETE" && template === "/nodes/{node}/storage/{storage}/content/{volume}") {
      // pve-storage's handler: backups need VM.Backup, every other volume Datastore.Allocate.
      const sid = /^([^:]+):/.exec(params.volume)?.[1] ?? params.storage;
      return this.check(`/storage/${sid}`, ["Datastore.Allocate"]);
    }
    if (
      method === "POST" &&
      template === "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback" &&
      params.start === "1"
    ) {
      // The worker starts the VM itself, so qemu-server asks for the start's privilege first.
      return this.check(vmPath, ["VM.PowerMgmt"]);
    }
    if (method === "POST" && template === "/nodes/{node}/qemu/{vmid}/clone") {
      return storage(params.storage);
    }
    if (method === "POST" && template === "/nodes/{node}/qemu/{vmid}/move_disk") {
      return storage(params.storage);
    }
    if (method === "POST" && template === "/nodes/{node}/qemu/{vmid}/migrate") {
      for (const pair of (params.targetstorage ?? "").split(/[,;\s]+/).filter((p) => p !== "")) {
        const target = pair.split(":").pop();
        const err = target === "1" ? undefined : storage(target);
        if (err) return err;
      }
    }
    return undefined;
  }

  /**
   * Reading the source of `import-from` (qemu-server's `check_storage_access`): another
   * VM's disk needs VM.Clone on that VM; a file (`import/`) what pve-storage's
   * `check_volume_access` asks: Datastore.Allocate, or at least AllocateSpace or Audit.
   */
  private checkImportSource(source: string | undefined): PveError | undefined {
    const m = source === undefined ? null : /^([^:/]+):(.+)$/.exec(source);
    if (!m) return undefined;
    const owner = /^(?:\d+\/)?(?:vm|base)-(\d+)-/.exec(m[2]);
    if (owner) return this.check(`/vms/${owner[1]}`, ["VM.Clone"]);
    if (this.has(`/storage/${m[1]}`, "Datastore.Allocate")) return undefined;
    return this.check(`/storage/${m[1]}`, ["Datastore.AllocateSpace", "Datastore.Audit"], true);
  }

  /** Storage, bridge and PCI-mapping privileges one option value needs. */
  private checkOptionResources(key: string, value: string | undefined): PveError | undefined {
    if (value === undefined) return undefined;
    if (DRIVE.test(key)) {
      const file = parseDrive(value).get("file") ?? "";
      const alloc = /^([^:/]+):(\d+(\.\d+)?|cloudinit)$/.exec(file);
      const err = alloc && this.check(`/storage/${alloc[1]}`, ["Datastore.AllocateSpace"]);
      if (err) return err;
      return this.checkImportSource(parseDrive(value).get("import-from"));
    }
    if (/^net\d+$/.test(key)) {
      const net = parseNet(value);
      const bridge = net.get("bridge");
      if (bridge === undefined) return undefined;
      const tag = net.get("tag");
      const zone = `/sdn/zones/localnetwork/${bridge}`;
      return tag === undefined
        ? this.check(zone, ["SDN.Use"])
        : this.check(`${zone}/${tag}`, ["SDN.Use"]);
    }
    if (/^hostpci\d+$/.test(key)) {
      const mapping = parseProps(value, "host").get("mapping");
      if (mapping !== undefined) return this.check(`/mapping/pci/${mapping}`, ["Mapping.Use"]);
    }
    return undefined;
  }
}

/** Parameters of create/config that are not options. */
const CONTROL: ReadonlySet<string> = new Set([
  "node",
  "vmid",
  "import-working-storage",
  ...UPDATE_CONTROL_PARAMS,
  ...CREATE_CONTROL_PARAMS,
]);

const DRIVE = /^(ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$|^unused\d+$/;

const CPU_OPTIONS = new Set([
  "cores",
  "cpu",
  "cpulimit",
  "cpuunits",
  "numa",
  "smp",
  "sockets",
  "vcpus",
  "affinity",
]);
const MEMORY_OPTIONS = new Set(["memory", "balloon", "shares", "allow-ksm"]);
const HWTYPE_OPTIONS = new Set([
  "acpi",
  "hotplug",
  "kvm",
  "machine",
  "scsihw",
  "smbios1",
  "tablet",
  "vga",
  "watchdog",
  "audio0",
]);
const CLOUDINIT_OPTIONS = new Set([
  "cicustom",
  "cipassword",
  "citype",
  "ciuser",
  "ciupgrade",
  "nameserver",
  "searchdomain",
  "sshkeys",
]);

/** qemu-server's `check_vm_modify_config_perm`: the privilege one option needs. */
function configPrivilege(key: string, value: string | undefined): string | undefined {
  if (CPU_OPTIONS.has(key)) return "VM.Config.CPU";
  if (MEMORY_OPTIONS.has(key)) return "VM.Config.Memory";
  if (HWTYPE_OPTIONS.has(key) || /^(hostpci|usb|serial|parallel|numa|rng|virtiofs)\d*$/.test(key))
    return "VM.Config.HWType";
  if (CLOUDINIT_OPTIONS.has(key) || /^ipconfig\d+$/.test(key)) return "VM.Config.Cloudinit";
  if (/^net\d+$/.test(key)) return "VM.Config.Network";
  if (DRIVE.test(key)) {
    const props = value === undefined ? undefined : parseDrive(value);
    const file = props?.get("file") ?? "";
    // update_vm_api asks for VM.Config.CDROM for any drive_is_cdrom() drive, the
    // cloud-init drive (media=cdrom) included, and VM.Config.Disk for the others.
    const cdrom = props?.get("media") === "cdrom" || /cloudinit/.test(file);
    if (cdrom || file === "none" || file === "cdrom") return "VM.Config.CDROM";
    return "VM.Config.Disk";
  }
  return "VM.Config.Options";
}
