/**
 * qemu-server's config keys: which names exist (numbered devices and plain options), how
 * plain values are type-checked and normalized, and which request parameters are not keys.
 */
import { parseProps } from "../property-string";

import { paramError } from "./errors";
import type { Params } from "./types";

export const DRIVE_KEY =
  /^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0)$/;
export const DISK_BUS_KEY = /^(ide|sata|scsi|virtio)\d+$/;
export const UNUSED_KEY = /^unused\d+$/;
export const NET_KEY = /^net([0-9]|[12][0-9]|3[01])$/;
export const IPCONFIG_KEY = /^ipconfig([0-9]|[12][0-9]|3[01])$/;
export const HOSTPCI_KEY = /^hostpci([0-9]|1[0-5])$/;
const CONFIG_KEY_PATTERNS: readonly RegExp[] = [
  DRIVE_KEY,
  UNUSED_KEY,
  NET_KEY,
  IPCONFIG_KEY,
  HOSTPCI_KEY,
  /^numa[0-7]$/,
  /^serial[0-3]$/,
  /^parallel[0-2]$/,
  /^usb([0-9]|1[0-3])$/,
  /^virtiofs\d$/,
];
/** Options of `qm set` (qemu-server 8.x), besides the numbered devices above. */
export const CONFIG_KEYS: ReadonlySet<string> = new Set([
  "acpi",
  "affinity",
  "agent",
  "amd-sev",
  "arch",
  "args",
  "audio0",
  "autostart",
  "balloon",
  "bios",
  "boot",
  "bootdisk",
  "cdrom",
  "cicustom",
  "cipassword",
  "citype",
  "ciupgrade",
  "ciuser",
  "cores",
  "cpu",
  "cpulimit",
  "cpuunits",
  "description",
  "freeze",
  "hookscript",
  "hotplug",
  "hugepages",
  "ivshmem",
  "keephugepages",
  "keyboard",
  "kvm",
  "localtime",
  "lock",
  "machine",
  "memory",
  "meta",
  "migrate_downtime",
  "migrate_speed",
  "name",
  "nameserver",
  "numa",
  "onboot",
  "ostype",
  "protection",
  "reboot",
  "rng0",
  "scsihw",
  "searchdomain",
  "shares",
  "smbios1",
  "smp",
  "sockets",
  "spice_enhancements",
  "sshkeys",
  "startdate",
  "startup",
  "tablet",
  "tags",
  "tdf",
  "template",
  "vcpus",
  "vga",
  "vmgenid",
  "vmstatestorage",
  "watchdog",
]);
/** Config keys returned as JSON numbers (booleans are 0/1, like PVE). */
export const BOOL_KEYS: ReadonlySet<string> = new Set([
  "acpi",
  "autostart",
  "ciupgrade",
  "freeze",
  "keephugepages",
  "kvm",
  "localtime",
  "numa",
  "onboot",
  "protection",
  "reboot",
  "tablet",
  "tdf",
  "template",
]);
export const INT_KEYS: ReadonlySet<string> = new Set([
  "balloon",
  "cores",
  "cpuunits",
  "migrate_speed",
  "shares",
  "sockets",
  "vcpus",
]);
export const NUMBER_KEYS: ReadonlySet<string> = new Set(["cpulimit", "migrate_downtime"]);
/** Parameters of PUT/POST config that are not config keys. */
export const UPDATE_CONTROL_PARAMS: ReadonlySet<string> = new Set([
  "delete",
  "digest",
  "skiplock",
  "force",
  "revert",
  "background_delay",
]);
export const CREATE_CONTROL_PARAMS: ReadonlySet<string> = new Set([
  "vmid",
  "pool",
  "start",
  "storage",
  "unique",
  "archive",
  "force",
  "bwlimit",
  "live-restore",
]);
const DNS_NAME =
  /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

export function isTrue(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "on", "yes"].includes(v.toLowerCase());
}

/** Whether `key` names a qemu-server config option. */
export function isConfigKey(key: string): boolean {
  return CONFIG_KEYS.has(key) || CONFIG_KEY_PATTERNS.some((p) => p.test(key));
}

/** Refuses parameters that are neither config keys nor the call's control parameters. */
export function checkKnownKeys(params: Params, control: ReadonlySet<string>): void {
  const errors: Record<string, string> = {};
  for (const k of Object.keys(params)) {
    if (control.has(k) || isConfigKey(k)) continue;
    errors[k] =
      "property is not defined in schema and the schema does not allow additional properties";
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
}

/** Type checks of plain options (the device options are checked where they are parsed). */
export function checkValue(key: string, value: string): void {
  if (BOOL_KEYS.has(key) && !/^(0|1|true|false|on|off|yes|no)$/i.test(value)) {
    throw paramError({ [key]: `type check ('boolean') failed - got '${value}'` });
  }
  if (INT_KEYS.has(key) && !/^-?\d+$/.test(value)) {
    throw paramError({ [key]: `type check ('integer') failed - got '${value}'` });
  }
  if (NUMBER_KEYS.has(key) && !/^-?\d+(\.\d+)?$/.test(value)) {
    throw paramError({ [key]: `type check ('number') failed - got '${value}'` });
  }
  if (key === "memory" && !/^(current=)?\d+$/.test(value)) {
    throw paramError({ [key]: `value does not match the regex pattern` });
  }
  if (key === "name" && !DNS_NAME.test(value)) {
    throw paramError({ name: "invalid format - value does not look like a valid DNS name" });
  }
  if (key === "description" && value.length > 8192) {
    throw paramError({ description: "value may only be 8192 characters long" });
  }
}

export function normalizeBool(v: string): string {
  return isTrue(v) ? "1" : "0";
}

export function normalizeTags(value: string): string {
  // qemu-server lower-cases tags (case-insensitive tag style, the default).
  const tags = [
    ...new Set(
      value
        .toLowerCase()
        .split(/[;,\s]+/)
        .filter((t) => t !== ""),
    ),
  ];
  for (const t of tags) {
    if (!TAG.test(t)) throw paramError({ tags: `invalid format - invalid tag '${t}'` });
  }
  return tags.sort().join(";");
}

/** A VM ID parameter (`vmid`, `newid`). */
export function vmidArg(value: string | undefined, key = "vmid"): number {
  const n = Number(value);
  if (value === undefined || value === "") {
    throw paramError({ [key]: "property is missing and it is not optional" });
  }
  if (!Number.isInteger(n) || n < 100 || n > 999_999_999) {
    throw paramError({ [key]: `invalid format - value does not look like a valid VM ID` });
  }
  return n;
}

/** The `agent` option: `1`, `enabled=1,fstrim_cloned_disks=0,type=virtio`... */
export function parseAgent(value: string | undefined): { enabled: boolean } {
  if (value === undefined) return { enabled: false };
  const props = parseProps(value, "enabled");
  return { enabled: isTrue(props.get("enabled")) };
}
