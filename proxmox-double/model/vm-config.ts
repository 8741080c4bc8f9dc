/**
 * A VM's qemu-server config: the digest, GET config's typed JSON, and `qm set` (set and
 * delete options, allocating, reusing and freeing volumes, normalizing drives and NICs).
 */
import { createHash } from "node:crypto";

import {
  formatSize,
  parseDrive,
  parseNet,
  parseProps,
  printDrive,
  printNet,
  randomMac,
} from "../property-string";
import type { Props } from "../property-string";

import type { PveCluster } from "./cluster";
import {
  BOOL_KEYS,
  DRIVE_KEY,
  HOSTPCI_KEY,
  INT_KEYS,
  IPCONFIG_KEY,
  NET_KEY,
  NUMBER_KEYS,
  UNUSED_KEY,
  UPDATE_CONTROL_PARAMS,
  checkKnownKeys,
  checkValue,
  isConfigKey,
  isTrue,
  normalizeBool,
  normalizeTags,
} from "./config-keys";
import { PveError, WorkerError, fail, paramError } from "./errors";
import type { Params, Vm, Volume } from "./types";
import { VolumeStore } from "./volumes";

/** Volumes the VM owns through its drives, unused entries and snapshots' RAM states (not ISOs). */
export function ownedVolumes(c: PveCluster, vm: Vm): Volume[] {
  const out: Volume[] = [];
  const states = [...(vm.snapshots?.values() ?? [])].flatMap((s) =>
    s.has("vmstate") ? [["vmstate", s.get("vmstate") ?? ""] as const] : [],
  );
  for (const [k, v] of [...vm.config, ...states]) {
    if (!DRIVE_KEY.test(k) && !UNUSED_KEY.test(k) && k !== "vmstate") continue;
    const vol = c.store.get(vm.node, parseDrive(v).get("file") ?? "");
    if (vol && vol.vmid === vm.vmid && !out.includes(vol)) out.push(vol);
  }
  return out;
}

export function nextUnusedKey(vm: Vm): string {
  let i = 0;
  while (vm.config.has(`unused${i}`)) i++;
  return `unused${i}`;
}

/** The SHA-1 of the .conf file: the config, then each `[snapshot]` section. */
export function digest(vm: Vm): string {
  const section = (conf: ReadonlyMap<string, string>): string =>
    [...conf].map(([k, v]) => `${k}: ${v}`).join("\n");
  const text = [
    section(vm.config),
    ...[...(vm.snapshots ?? [])].map(([name, conf]) => `[${name}]\n${section(conf)}`),
  ].join("\n\n");
  return createHash("sha1").update(text).digest("hex");
}

/** GET config: values typed like PVE's JSON (numbers for ints and booleans). */
export function configJson(vm: Vm): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of vm.config) {
    if (BOOL_KEYS.has(k) || INT_KEYS.has(k) || NUMBER_KEYS.has(k)) out[k] = Number(v);
    else out[k] = v;
  }
  out.digest = digest(vm);
  return out;
}

/** Removes a config key like `qm set --delete` does (disks become `unusedN`). */
export function deleteOption(c: PveCluster, vm: Vm, key: string): void {
  const current = vm.config.get(key);
  if (current === undefined) return; // PVE only warns: "cannot delete 'x' - not set in current configuration!"
  vm.config.delete(key);
  if (UNUSED_KEY.test(key)) {
    const vol = c.store.get(vm.node, parseDrive(current).get("file") ?? "");
    if (vol) c.store.free(vol);
    return;
  }
  if (!DRIVE_KEY.test(key)) return;
  const props = parseDrive(current);
  const vol = c.store.get(vm.node, props.get("file") ?? "");
  if (!vol || vol.vmid !== vm.vmid) return;
  if (/cloudinit/.test(vol.name) || key === "efidisk0" || key === "tpmstate0") {
    c.store.free(vol);
  } else {
    vm.config.set(nextUnusedKey(vm), VolumeStore.volid(vol));
  }
}

/** Sets one config option, allocating volumes and normalizing like qemu-server. */
export function setOption(c: PveCluster, vm: Vm, key: string, value: string, user: string): void {
  checkValue(key, value);
  if (DRIVE_KEY.test(key)) {
    setDrive(c, vm, key, value);
  } else if (NET_KEY.test(key)) {
    setNet(vm, key, value);
  } else if (IPCONFIG_KEY.test(key)) {
    const props = parseProps(value);
    for (const k of props.keys()) {
      if (!["ip", "gw", "ip6", "gw6"].includes(k)) {
        throw paramError({
          [key]: `invalid format - format error ${key}.${k}: property is not defined in schema`,
        });
      }
    }
    const ip = props.get("ip");
    if (ip !== undefined && ip !== "dhcp" && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(ip)) {
      throw paramError({
        [key]: `invalid format - format error ${key}.ip: invalid format - value does not look like a valid CIDR network`,
      });
    }
    vm.config.set(key, value);
  } else if (HOSTPCI_KEY.test(key)) {
    const props = parseProps(value, "host");
    const mapping = props.get("mapping");
    if (mapping === undefined && props.get("host") === undefined) {
      throw paramError({ [key]: "either 'host' or 'mapping' must be set." });
    }
    if (mapping === undefined && user !== "root@pam") {
      throw fail(`only root can set '${key}' config for non-mapped devices`);
    }
    vm.config.set(key, value);
  } else if (key === "tags") {
    vm.config.set(key, normalizeTags(value));
  } else if (BOOL_KEYS.has(key)) {
    vm.config.set(key, normalizeBool(value));
  } else if (key === "arch" && user !== "root@pam") {
    throw fail("only root can set 'arch' config");
  } else {
    vm.config.set(key, value);
  }
}

export function setNet(vm: Vm, key: string, value: string): void {
  const props = parseNet(value);
  if (!props.has("model"))
    throw paramError({ [key]: "invalid format - format error: missing model" });
  if (!props.has("macaddr")) {
    const old = vm.config.get(key);
    const oldMac = old ? parseNet(old).get("macaddr") : undefined;
    props.set("macaddr", oldMac ?? randomMac());
  }
  const tag = props.get("tag");
  if (tag !== undefined && !(Number(tag) >= 1 && Number(tag) <= 4094)) {
    throw paramError({
      [key]: `invalid format - format error ${key}.tag: value must have a minimum value of 1`,
    });
  }
  vm.config.set(key, printNet(props));
}

export function setDrive(c: PveCluster, vm: Vm, key: string, value: string): void {
  const props = parseDrive(value);
  const file = props.get("file");
  if (file === undefined || file === "") {
    throw paramError({ [key]: "invalid format - missing 'file'" });
  }
  const previous = vm.config.get(key);
  const previousVol = previous
    ? c.store.get(vm.node, parseDrive(previous).get("file") ?? "")
    : undefined;

  checkImportSyntax(key, props, file);
  const cloudinit = /^([^:]+):cloudinit$/.exec(file);
  const alloc = /^([^:]+):(\d+(\.\d+)?)$/.exec(file);
  let vol: Volume | undefined;
  if (file === "none" || file === "cdrom") {
    props.set("media", "cdrom");
  } else if (cloudinit) {
    if (previousVol && /cloudinit/.test(previousVol.name) && previousVol.storage === cloudinit[1]) {
      vol = previousVol;
    } else {
      vol = c.store.allocate(
        vm.node,
        cloudinit[1],
        vm.vmid,
        "cloudinit",
        4 * 1024 ** 2,
        props.get("format"),
      );
    }
    props.set("media", "cdrom");
    props.delete("format");
  } else if (alloc) {
    const def = c.store.storageOn(vm.node, alloc[1]);
    let size = Number(alloc[2]) * 1024 ** 3;
    const importFrom = props.get("import-from");
    if (importFrom !== undefined) {
      size = importedSize(c, vm, key, importFrom);
    } else if (key === "efidisk0") {
      size = VolumeStore.efiSize(def, props.get("efitype"));
    } else if (key === "tpmstate0") {
      size = 4 * 1024 ** 2;
    } else if (size <= 0) {
      throw paramError({ [key]: "invalid format - size must be greater than 0" });
    }
    vol = c.store.allocate(vm.node, alloc[1], vm.vmid, "disk", size, props.get("format"));
    props.delete("format"); // qemu-server drops it once the volume exists
    props.delete("import-from");
  } else if (/^[^:/]+:/.test(file)) {
    vol = c.store.get(vm.node, file);
    if (!vol) throw fail(`volume '${file}' does not exist`);
  }
  if (vol) {
    props.set("file", VolumeStore.volid(vol));
    if (props.get("media") !== "cdrom" || /cloudinit/.test(vol.name))
      props.set("size", formatSize(vol.size));
  }
  if (previousVol && previousVol !== vol && previousVol.vmid === vm.vmid) {
    if (/cloudinit/.test(previousVol.name)) c.store.free(previousVol);
    else vm.config.set(nextUnusedKey(vm), VolumeStore.volid(previousVol));
  }
  // A volume listed as unused that is attached again is no longer unused.
  if (vol) {
    for (const [k, v] of vm.config) {
      if (UNUSED_KEY.test(k) && v === VolumeStore.volid(vol)) vm.config.delete(k);
    }
  }
  vm.config.set(key, printDrive(props));
}

/** qemu-server's `$check_drive_param` for `import-from` (a 400 before anything runs). */
function checkImportSyntax(key: string, props: Props, file: string): void {
  if (props.get("import-from") === undefined) return;
  const m = /^(([^/:\s]+):)?(\d+(\.\d+)?)$/.exec(file);
  if (!m || Number(m[3]) !== 0) {
    throw paramError({
      [key]: "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>",
    });
  }
  const required =
    key === "efidisk0" ? ["efitype", "pre-enrolled-keys"] : key === "tpmstate0" ? ["version"] : [];
  for (const r of required) {
    if (!props.has(r))
      throw paramError({ [key]: `need to specify '${r}' when using 'import-from'` });
  }
}

/**
 * The size of a disk imported from `source` (`local:import/x.qcow2` or another VM's disk):
 * what the image holds, as qemu-img reports it. A source that is not there fails the
 * worker, as `file_size_info` / `volume_size_info` do in qemu-server's `create_disks`.
 */
function importedSize(c: PveCluster, vm: Vm, key: string, source: string): number {
  if (source.startsWith("/")) throw fail("Only root can pass arbitrary filesystem paths.");
  const m = /^([^:]+):(.+)$/.exec(source);
  if (!m) throw paramError({ [key]: `unable to parse volume ID '${source}'` });
  const def = c.store.storageOn(vm.node, m[1]);
  const vtype = /^(import|iso|vztmpl)\//.exec(m[2])?.[1] ?? "images";
  if (vtype !== "images" && vtype !== "import") {
    throw paramError({
      [key]: `${source} has wrong type '${vtype}' - needs to be 'images' or 'import'`,
    });
  }
  if (vtype === "import" && !/\.(qcow2|raw|vmdk)$/.test(m[2])) {
    throw new PveError(
      501,
      `proxmox-double: importing from '${source}' (an OVA/OVF) is not implemented`,
    );
  }
  const src = c.store.get(vm.node, source);
  if (!src) {
    throw new WorkerError(
      vtype === "import"
        ? `failed to stat '${c.store.filePath(def, m[2])}'`
        : `could not get size of ${source}`,
    );
  }
  if (/cloudinit/.test(src.name)) throw new WorkerError("cannot import from cloudinit disk");
  return src.virtualSize ?? src.size;
}

/** PUT (sync) or POST (async, returns a UPID) /nodes/{node}/qemu/{vmid}/config. */
export function updateConfig(
  c: PveCluster,
  node: string,
  vmid: number,
  params: Params,
  async: boolean,
): string | null {
  const vm = c.vmOn(node, vmid);
  checkKnownKeys(params, UPDATE_CONTROL_PARAMS);
  c.assertUnlocked(vm, isTrue(params.skiplock));
  if (params.digest && params.digest !== digest(vm)) {
    throw fail("detected modified configuration - file changed by other user? Try again.");
  }
  const deletes = (params.delete ?? "").split(/[,;\s]+/).filter((k) => k !== "");
  const setKeys = Object.keys(params).filter((k) => !UPDATE_CONTROL_PARAMS.has(k));
  for (const k of deletes) {
    if (setKeys.includes(k))
      throw paramError({ delete: `cannot set and delete '${k}' at the same time` });
    if (!isConfigKey(k)) {
      throw paramError({ delete: `invalid format - '${k}' is not a valid config key` });
    }
  }
  if (setKeys.length === 0 && deletes.length === 0) throw fail("no options specified");
  const apply = (): void => {
    for (const k of deletes) deleteOption(c, vm, k);
    for (const k of setKeys) setOption(c, vm, k, params[k], c.user);
  };
  if (!async) {
    apply();
    return null;
  }
  return c.runner.start({ node, type: "qmconfig", id: vmid, work: apply });
}
