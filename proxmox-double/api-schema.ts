/**
 * Request validation the way Proxmox VE's API server does it (PVE::JSONSchema) before a
 * handler runs, from the API description in `api-schema.json` (regenerate it with
 * `npx tsx proxmox-double/write-api-schema.ts`): unknown parameters, missing ones, types
 * (form booleans are `0`/`1` only), ranges, enums, patterns, lengths, named formats, and
 * property strings with their default keys, aliases and sub-keys.
 *
 * Named formats are functions in Proxmox's Perl code, not data in its API description, so
 * the ones VM provisioning uses are written out here (`FORMATS`). A format not listed is
 * accepted unchecked and reported by `uncheckedFormats()`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** A parameter (or property-string sub-key) as the API description writes it. */
export interface ParamSchema {
  readonly type?: string;
  readonly optional?: number;
  readonly format?: string | Readonly<Record<string, ParamSchema>>;
  readonly enum?: readonly string[];
  readonly minimum?: number | string;
  readonly maximum?: number | string;
  readonly pattern?: string;
  readonly maxLength?: number;
  readonly minLength?: number;
  readonly default_key?: number;
  readonly alias?: string;
  readonly keyAlias?: string;
  readonly requires?: string;
}

/** `permissions` of a method: `{user: "all"}` or `{check: [...]}`. */
export interface Permissions {
  readonly user?: string;
  readonly check?: readonly unknown[];
}

export interface MethodSchema {
  readonly parameters?: {
    readonly additionalProperties?: number;
    readonly properties?: Readonly<Record<string, ParamSchema>>;
  };
  readonly permissions?: Permissions | null;
}

export type Errors = Record<string, string>;

/** Highest index of each numbered option (`scsi[n]` is scsi0..scsi30), as qemu-server has them. */
const MAX_INDEX: Readonly<Record<string, number>> = {
  ide: 3,
  sata: 5,
  scsi: 30,
  virtio: 15,
  net: 31,
  ipconfig: 31,
  hostpci: 15,
  numa: 7,
  serial: 3,
  parallel: 2,
  usb: 13,
  unused: 255,
  virtiofs: 9,
  mp: 255,
};

/** CPU models qemu-server knows (PVE::QemuServer::CPUConfig), besides `custom-<name>`. */
const CPU_MODELS: ReadonlySet<string> = new Set([
  "486",
  "athlon",
  "Broadwell",
  "Broadwell-IBRS",
  "Broadwell-noTSX",
  "Broadwell-noTSX-IBRS",
  "Cascadelake-Server",
  "Cascadelake-Server-noTSX",
  "Cascadelake-Server-v2",
  "Cascadelake-Server-v4",
  "Cascadelake-Server-v5",
  "Conroe",
  "Cooperlake",
  "Cooperlake-v2",
  "core2duo",
  "coreduo",
  "EPYC",
  "EPYC-Genoa",
  "EPYC-IBPB",
  "EPYC-Milan",
  "EPYC-Milan-v2",
  "EPYC-Rome",
  "EPYC-Rome-v2",
  "EPYC-Rome-v3",
  "EPYC-Rome-v4",
  "EPYC-v3",
  "EPYC-v4",
  "GraniteRapids",
  "Haswell",
  "Haswell-IBRS",
  "Haswell-noTSX",
  "Haswell-noTSX-IBRS",
  "host",
  "Icelake-Client",
  "Icelake-Client-noTSX",
  "Icelake-Server",
  "Icelake-Server-noTSX",
  "Icelake-Server-v3",
  "Icelake-Server-v4",
  "Icelake-Server-v5",
  "Icelake-Server-v6",
  "IvyBridge",
  "IvyBridge-IBRS",
  "KnightsMill",
  "kvm32",
  "kvm64",
  "max",
  "Nehalem",
  "Nehalem-IBRS",
  "Opteron_G1",
  "Opteron_G2",
  "Opteron_G3",
  "Opteron_G4",
  "Opteron_G5",
  "Penryn",
  "pentium",
  "pentium2",
  "pentium3",
  "phenom",
  "qemu32",
  "qemu64",
  "SandyBridge",
  "SandyBridge-IBRS",
  "SapphireRapids",
  "SapphireRapids-v2",
  "Skylake-Client",
  "Skylake-Client-IBRS",
  "Skylake-Client-noTSX-IBRS",
  "Skylake-Client-v4",
  "Skylake-Server",
  "Skylake-Server-IBRS",
  "Skylake-Server-noTSX-IBRS",
  "Skylake-Server-v4",
  "Skylake-Server-v5",
  "Westmere",
  "Westmere-IBRS",
  "x86-64-v2",
  "x86-64-v2-AES",
  "x86-64-v3",
  "x86-64-v4",
]);

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^(?=.*:)[0-9a-fA-F:]+(:(\d{1,3}\.){3}\d{1,3})?$/;
const DNS_LABEL = "[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?";
const DNS_NAME = new RegExp(`^(?=.{1,253}$)${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const CONFIG_ID = /^[a-z][a-z0-9_-]+$/i;
const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i;
const DRIVE_OR_NET =
  /^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0|net([0-9]|[12][0-9]|3[01])|hostpci([0-9]|1[0-5])|usb([0-9]|1[0-3]))$/;

function isIpv6(v: string): boolean {
  if (!IPV6.test(v)) return false;
  const parts = v.split("::");
  if (parts.length > 2) return false;
  const groups = v.split(":").filter((g) => g !== "");
  return groups.every((g) => g.length <= 4 || g.includes(".")) && groups.length <= 8;
}

function cidr(v: string, family: 4 | 6 | 0): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v);
  if (!m) return false;
  const bits = Number(m[2]);
  if ((family === 4 || family === 0) && IPV4.test(m[1])) return bits >= 0 && bits <= 32;
  if ((family === 6 || family === 0) && isIpv6(m[1])) return bits >= 0 && bits <= 128;
  return false;
}

const list = (v: string): string[] => v.split(/[;,\s\0]+/).filter((x) => x !== "");

/** A named format: a check returning an error, or a property-string sub-format (+ check). */
type Format =
  | { readonly check: (value: string) => string | undefined }
  | {
      readonly props: Readonly<Record<string, ParamSchema>>;
      readonly after?: (parsed: Record<string, string>) => string | undefined;
    };

const fmt = (re: RegExp, message: (v: string) => string): Format => ({
  check: (v) => (re.test(v) ? undefined : message(v)),
});

const volumeId = (v: string): boolean => /^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i.test(v);

const DRIVE_SIZE = /^(\d+(\.\d+)?)([KMGT])?$/;

export const FORMATS: Readonly<Record<string, Format>> = {
  "pve-node": fmt(
    /^(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/,
    (v) => `value '${v}' does not look like a valid node name`,
  ),
  "pve-vmid": fmt(/^[1-9]\d{2,8}$/, () => "value does not look like a valid VM ID"),
  "pve-vmid-list": {
    check: (v) =>
      list(v).every((x) => /^[1-9]\d{2,8}$/.test(x))
        ? undefined
        : "value does not look like a valid VM ID list",
  },
  "pve-storage-id": fmt(STORAGE_ID, (v) => `storage ID '${v}' contains illegal characters`),
  "pve-storage-id-list": {
    check: (v) => {
      const bad = list(v).find((x) => !STORAGE_ID.test(x));
      return bad === undefined ? undefined : `storage ID '${bad}' contains illegal characters`;
    },
  },
  "pve-configid": fmt(CONFIG_ID, (v) => `invalid configuration ID '${v}'`),
  // pve-ha-manager's formats (PVE/HA/Tools.pm); a `-list` checks each element.
  "pve-ha-resource-or-vm-id": fmt(
    /^([a-z]+:\S+|\d+)$/,
    () => "value does not look like a valid ha resource id",
  ),
  "pve-ha-resource-id-list": {
    check: (v) =>
      list(v).every((x) => /^[a-z]+:\S+$/.test(x))
        ? undefined
        : "value does not look like a valid ha resource id",
  },
  "pve-ha-node-list": {
    check: (v) =>
      list(v).every((x) => /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(:\d+)?$/.test(x))
        ? undefined
        : "value does not look like a valid ha node",
  },
  "pve-configid-list": {
    check: (v) => {
      const bad = list(v).find((x) => !CONFIG_ID.test(x));
      return bad === undefined ? undefined : `invalid configuration ID '${bad}'`;
    },
  },
  "pve-poolid": fmt(/^[A-Za-z0-9_\-.]+(\/[A-Za-z0-9_\-.]+){0,2}$/, (v) => `invalid pool ID '${v}'`),
  "pve-bridge-id": fmt(/^[-_.\w\d]+$/, (v) => `invalid bridge ID '${v}'`),
  "dns-name": fmt(DNS_NAME, () => "value does not look like a valid DNS name"),
  "dns-name-list": {
    check: (v) =>
      list(v).every((x) => DNS_NAME.test(x))
        ? undefined
        : "value does not look like a valid DNS name",
  },
  "disk-size": fmt(DRIVE_SIZE, () => "value does not look like a valid disk size"),
  "mac-addr": {
    check: (v) =>
      /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) && (parseInt(v.slice(0, 2), 16) & 1) === 0
        ? undefined
        : "value does not look like a valid unicast MAC address",
  },
  ipv4: fmt(IPV4, () => "value does not look like a valid IPv4 address"),
  ipv6: { check: (v) => (isIpv6(v) ? undefined : "value does not look like a valid IPv6 address") },
  ip: {
    check: (v) =>
      IPV4.test(v) || isIpv6(v) ? undefined : "value does not look like a valid IP address",
  },
  CIDR: {
    check: (v) => (cidr(v, 0) ? undefined : "value does not look like a valid CIDR network"),
  },
  CIDRv4: {
    check: (v) => (cidr(v, 4) ? undefined : "value does not look like a valid IPv4 CIDR network"),
  },
  CIDRv6: {
    check: (v) => (cidr(v, 6) ? undefined : "value does not look like a valid IPv6 CIDR network"),
  },
  "address-list": {
    check: (v) => {
      const bad = list(v).find((x) => !IPV4.test(x) && !isIpv6(x));
      return bad === undefined ? undefined : `unable to parse address '${bad}'`;
    },
  },
  "pve-tag-list": {
    check: (v) => {
      const tags = list(v);
      if (tags.length === 0) return "empty tag list";
      const bad = tags.find((t) => !TAG.test(t));
      return bad === undefined ? undefined : `invalid tag '${bad}'`;
    },
  },
  urlencoded: fmt(/^[-%a-zA-Z0-9_.!~*'()]*$/, (v) => `invalid urlencoded string: ${v}`),
  "pve-volume-id": fmt(
    /^[a-z][a-z0-9\-_.]*[a-z0-9]:.+$/i,
    (v) => `unable to parse volume ID '${v}'`,
  ),
  "pve-volume-id-or-qm-path": {
    check: (v) =>
      v === "none" || v === "cdrom" || v.startsWith("/") || volumeId(v)
        ? undefined
        : `unable to parse volume ID '${v}'`,
  },
  "pve-volume-id-or-absolute-path": {
    check: (v) =>
      v.startsWith("/") || volumeId(v) ? undefined : `unable to parse volume ID '${v}'`,
  },
  "storage-pair-list": {
    check: (v) => {
      const pairs = list(v);
      const bad = pairs.find((p) => !p.split(":").every((s) => STORAGE_ID.test(s) || s === "1"));
      return bad === undefined && pairs.every((p) => p.split(":").length <= 2)
        ? undefined
        : `invalid storage mapping '${bad ?? v}'`;
    },
  },
  "pve-startup-order": {
    props: {
      order: { type: "integer", minimum: 0, optional: 1, default_key: 1 },
      up: { type: "integer", minimum: 0, optional: 1 },
      down: { type: "integer", minimum: 0, optional: 1 },
    },
  },
  "pve-qm-boot": {
    props: {
      legacy: { type: "string", pattern: "[acdn]{1,4}", optional: 1, default_key: 1 },
      order: { type: "string", format: "pve-qm-bootdev-list", optional: 1 },
    },
  },
  "pve-qm-bootdev-list": {
    check: (v) => {
      const bad = v.split(";").find((d) => !DRIVE_OR_NET.test(d));
      return bad === undefined ? undefined : `invalid boot device '${bad}'`;
    },
  },
  "pve-qm-ipconfig": {
    props: {
      ip: { type: "string", format: "pve-ipv4-config", optional: 1 },
      gw: { type: "string", format: "ipv4", optional: 1 },
      ip6: { type: "string", format: "pve-ipv6-config", optional: 1 },
      gw6: { type: "string", format: "ipv6", optional: 1 },
    },
    after: (c) => {
      if (c.gw !== undefined && c.ip === undefined)
        return "gateway specified without specifying an IP address";
      if (c.gw6 !== undefined && c.ip6 === undefined)
        return "IPv6 gateway specified without specifying an IPv6 address";
      if (c.gw !== undefined && c.ip === "dhcp") return "gateway specified together with DHCP";
      if (c.gw6 !== undefined && (c.ip6 === "dhcp" || c.ip6 === "auto"))
        return `IPv6 gateway specified together with ${c.ip6.toUpperCase()}`;
      return undefined;
    },
  },
  "pve-ipv4-config": {
    check: (v) =>
      v === "dhcp" || cidr(v, 4) ? undefined : "value does not look like a valid IPv4 config",
  },
  "pve-ipv6-config": {
    check: (v) =>
      v === "dhcp" || v === "auto" || cidr(v, 6)
        ? undefined
        : "value does not look like a valid IPv6 config",
  },
  "pve-vm-cpu-conf": {
    props: {
      cputype: { type: "string", optional: 1, default_key: 1, format: "pve-cpu-model" },
      flags: {
        type: "string",
        optional: 1,
        pattern: "(?:[+-][a-zA-Z0-9\\-_\\.]+)(?:;(?:[+-][a-zA-Z0-9\\-_\\.]+))*",
      },
      hidden: { type: "boolean", optional: 1 },
      "hv-vendor-id": { type: "string", optional: 1, pattern: "[a-zA-Z0-9]{1,12}" },
      "phys-bits": { type: "string", optional: 1, pattern: "(host|\\d{1,2})" },
      "reported-model": { type: "string", optional: 1, enum: [...CPU_MODELS] },
    },
  },
  "pve-cpu-model": {
    check: (v) =>
      CPU_MODELS.has(v) || /^custom-[a-z0-9_-]+$/i.test(v)
        ? undefined
        : `Built-in cputype '${v}' is not defined (missing 'custom-' prefix?)`,
  },
  "pve-qm-hostpci": {
    props: {
      host: {
        type: "string",
        optional: 1,
        default_key: 1,
        pattern:
          "(?:(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\\.[a-f0-9])?|[a-zA-Z][a-zA-Z0-9_-]+)(;(?:(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\\.[a-f0-9])?))*",
      },
      mapping: { type: "string", optional: 1, format: "pve-configid" },
      "legacy-igd": { type: "boolean", optional: 1 },
      mdev: { type: "string", optional: 1, format: "pve-configid" },
      pcie: { type: "boolean", optional: 1 },
      rombar: { type: "boolean", optional: 1 },
      romfile: { type: "string", optional: 1 },
      "x-vga": { type: "boolean", optional: 1 },
      "device-id": { type: "string", optional: 1, pattern: "0x[0-9a-fA-F]{4}" },
      "vendor-id": { type: "string", optional: 1, pattern: "0x[0-9a-fA-F]{4}" },
      "sub-device-id": { type: "string", optional: 1, pattern: "0x[0-9a-fA-F]{4}" },
      "sub-vendor-id": { type: "string", optional: 1, pattern: "0x[0-9a-fA-F]{4}" },
    },
    after: (c) =>
      c.host === undefined && c.mapping === undefined
        ? "either 'host' or 'mapping' must be set."
        : c.host !== undefined && c.mapping !== undefined
          ? "'host' and 'mapping' cannot be set at the same time"
          : undefined,
  },
  "pve-qm-bootdisk": {
    check: (v) =>
      /^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5]))$/.test(v)
        ? undefined
        : `invalid drive name '${v}'`,
  },
  "pve-hotplug-features": {
    check: (v) =>
      /^(0|1|(network|disk|cpu|memory|usb|cloudinit)(,(network|disk|cpu|memory|usb|cloudinit))*)$/.test(
        v,
      )
        ? undefined
        : `invalid hotplug feature '${v}'`,
  },
  "pve-cpuset": fmt(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, (v) => `invalid cpuset '${v}'`),
  "pve-qm-watchdog": {
    props: {
      model: { type: "string", optional: 1, default_key: 1, enum: ["i6300esb", "ib700"] },
      action: {
        type: "string",
        optional: 1,
        enum: ["reset", "shutdown", "poweroff", "pause", "debug", "none"],
      },
    },
  },
  "pve-qm-rng": {
    props: {
      source: {
        type: "string",
        default_key: 1,
        enum: ["/dev/urandom", "/dev/random", "/dev/hwrng"],
      },
      max_bytes: { type: "integer", optional: 1 },
      period: { type: "integer", optional: 1 },
    },
  },
  "pve-qm-cicustom": {
    props: {
      meta: { type: "string", optional: 1, format: "pve-volume-id" },
      network: { type: "string", optional: 1, format: "pve-volume-id" },
      user: { type: "string", optional: 1, format: "pve-volume-id" },
      vendor: { type: "string", optional: 1, format: "pve-volume-id" },
    },
  },
  "pve-qm-smbios1": {
    props: {
      base64: { type: "boolean", optional: 1 },
      family: { type: "string", optional: 1 },
      manufacturer: { type: "string", optional: 1 },
      product: { type: "string", optional: 1 },
      serial: { type: "string", optional: 1 },
      sku: { type: "string", optional: 1 },
      uuid: {
        type: "string",
        optional: 1,
        pattern: "[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}",
      },
      version: { type: "string", optional: 1 },
    },
  },
};

const unchecked = new Set<string>();

/** Named formats met in requests that `FORMATS` does not check (accepted as they are). */
export function uncheckedFormats(): string[] {
  return [...unchecked].sort();
}

/** A Perl regex of the API description as a JavaScript one, anchored like Proxmox does. */
function perlRegex(pattern: string): RegExp {
  const js = pattern.replace(/\(\?\^:/g, "(?:").replace(/\{,(\d+)\}/g, "{0,$1}");
  return new RegExp(`^(?:${js})$`);
}

const regexCache = new Map<string, RegExp>();

function matches(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (!re) {
    re = perlRegex(pattern);
    regexCache.set(pattern, re);
  }
  return re.test(value);
}

/** PVE::JSONSchema::parse_boolean (property strings only; API parameters take 0/1). */
function parseBoolean(v: string): string | undefined {
  if (/^(1|on|yes|true)$/i.test(v)) return "1";
  if (/^(0|off|no|false)$/i.test(v)) return "0";
  return undefined;
}

/** Parses a property string against a sub-format; throws the message PVE dies with. */
function parsePropertyString(
  format: Readonly<Record<string, ParamSchema>>,
  value: string,
): Record<string, string> {
  const defaultKey = Object.keys(format).find((k) => format[k].default_key);
  const out: Record<string, string> = {};
  for (const raw of value.split(",")) {
    if (/^\s*$/.test(raw)) continue;
    const m = /^([^=]+)=(.+)$/.exec(raw);
    if (m) {
      let key = m[1];
      let v = m[2];
      if (out[key] !== undefined)
        throw new Error(`duplicate key in comma-separated list property: ${key}`);
      let schema = format[key] as ParamSchema | undefined;
      if (schema?.alias !== undefined) {
        if (schema.keyAlias !== undefined) {
          if (out[schema.keyAlias] !== undefined)
            throw new Error(`key alias '${schema.keyAlias}' is already defined`);
          out[schema.keyAlias] = key;
        }
        key = schema.alias;
        schema = format[key];
      }
      if (!schema) throw new Error(`invalid key in comma-separated list property: ${key}`);
      if (schema.type === "boolean") v = parseBoolean(v) ?? v;
      out[key] = v;
    } else if (!raw.includes("=")) {
      if (defaultKey === undefined)
        throw new Error("value without key, but schema does not define a default key");
      if (out[defaultKey] !== undefined)
        throw new Error(`duplicate key in comma-separated list property: ${defaultKey}`);
      out[defaultKey] = raw;
    } else {
      throw new Error("missing key in comma-separated list property");
    }
  }
  return out;
}

/** PVE::JSONSchema::check_prop for one value; adds to `errors` under `path`. */
function checkValue(schema: ParamSchema, value: string, path: string, errors: Errors): void {
  const type = schema.type ?? "string";
  if (type === "boolean" && value !== "0" && value !== "1") {
    errors[path] = `type check ('boolean') failed - got '${value}'`;
    return;
  }
  if (type === "integer" && !/^[+-]?\d+$/.test(value)) {
    errors[path] = `type check ('integer') failed - got '${value}'`;
    return;
  }
  if (type === "number" && !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) {
    errors[path] = `type check ('number') failed - got '${value}'`;
    return;
  }
  if (type === "integer" || type === "number") {
    const n = Number(value);
    if (schema.minimum !== undefined && n < Number(schema.minimum)) {
      errors[path] = `value must have a minimum value of ${schema.minimum}`;
      return;
    }
    if (schema.maximum !== undefined && n > Number(schema.maximum)) {
      errors[path] = `value must have a maximum value of ${schema.maximum}`;
      return;
    }
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    errors[path] = `value must be at least ${schema.minLength} characters long`;
    return;
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    errors[path] = `value may only be ${schema.maxLength} characters long`;
    return;
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    errors[path] =
      `value '${value}' does not have a value in the enumeration '${schema.enum.join(", ")}'`;
    return;
  }
  if (schema.pattern !== undefined && !matches(schema.pattern, value)) {
    errors[path] = "value does not match the regex pattern";
    return;
  }
  if (schema.format === undefined) return;
  const problem = checkFormat(schema.format, value, path);
  if (problem !== undefined) errors[path] = `invalid format - ${problem}`;
}

/** Checks `value` against a format; returns the problem (without `invalid format - `). */
function checkFormat(
  format: NonNullable<ParamSchema["format"]>,
  value: string,
  path: string,
): string | undefined {
  let props: Readonly<Record<string, ParamSchema>>;
  let after: ((parsed: Record<string, string>) => string | undefined) | undefined;
  if (typeof format === "string") {
    const named = FORMATS[format];
    if (named === undefined) {
      unchecked.add(format);
      return undefined;
    }
    if ("check" in named) return named.check(value);
    props = named.props;
    after = named.after;
  } else {
    props = format;
  }
  let parsed: Record<string, string>;
  try {
    parsed = parsePropertyString(props, value);
  } catch (e) {
    return (e as Error).message;
  }
  const sub: Errors = {};
  checkObject(props, parsed, path, 0, sub);
  if (Object.keys(sub).length > 0) {
    return `format error\n${Object.entries(sub)
      .map(([k, v]) => `${k}: ${v}`)
      .join("\n")}`;
  }
  return after?.(parsed);
}

/** The schema of `key`: itself, or its numbered family (`scsi12` → `scsi[n]`). */
function propertyOf(
  props: Readonly<Record<string, ParamSchema>>,
  key: string,
): ParamSchema | undefined {
  if (Object.prototype.hasOwnProperty.call(props, key)) return props[key];
  const m = /^([a-z]+)(\d+)$/.exec(key);
  if (!m) return undefined;
  const family = props[`${m[1]}[n]`] as ParamSchema | undefined;
  const max = MAX_INDEX[m[1]];
  if (family === undefined || max === undefined) return undefined;
  if (m[2] !== String(Number(m[2])) || Number(m[2]) > max) return undefined;
  return family;
}

/** PVE::JSONSchema::check_object: required keys, unknown keys, each value. */
function checkObject(
  props: Readonly<Record<string, ParamSchema>>,
  values: Readonly<Record<string, string>>,
  path: string,
  additionalProperties: number | undefined,
  errors: Errors,
): void {
  const sub = (k: string): string => (path === "" ? k : `${path}.${k}`);
  for (const [k, schema] of Object.entries(props)) {
    if (k.endsWith("[n]") || schema.alias !== undefined) continue;
    if (values[k] === undefined) {
      if (!schema.optional) errors[sub(k)] = "property is missing and it is not optional";
      continue;
    }
  }
  for (const [k, v] of Object.entries(values)) {
    const schema = propertyOf(props, k);
    if (schema === undefined) {
      if (additionalProperties !== undefined && !additionalProperties) {
        errors[sub(k)] =
          "property is not defined in schema and the schema does not allow additional properties";
      }
      continue;
    }
    if (schema.requires !== undefined && values[schema.requires] === undefined) {
      errors[sub(schema.requires)] = `missing property - '${sub(k)}' requires this property`;
    }
    checkValue(schema, v, sub(k), errors);
  }
}

/** `decodeURIComponent`, or the text as it is when it is not valid percent-encoding. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const API_SCHEMA_FILE = resolve(__dirname, "api-schema.json");

interface CompiledPath {
  readonly template: string;
  readonly regex: RegExp;
  readonly keys: readonly string[];
  readonly methods: Readonly<Record<string, MethodSchema>>;
}

/** A matched endpoint: its path template, the path's parameters and the method's schema. */
export interface Endpoint {
  readonly template: string;
  readonly pathParams: Record<string, string>;
  readonly schema: MethodSchema;
}

/** The API description: endpoint lookup and parameter verification. */
export class ApiSchema {
  private readonly paths: readonly CompiledPath[];

  constructor(doc: { readonly paths: Record<string, Record<string, MethodSchema>> }) {
    this.paths = Object.entries(doc.paths).map(([template, methods]) => {
      const keys: string[] = [];
      const source = template
        .split("/")
        .map((seg) => {
          const m = /^\{(.+)\}$/.exec(seg);
          if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          keys.push(m[1]);
          return "([^/]+)";
        })
        .join("/");
      return { template, regex: new RegExp(`^${source}$`), keys, methods };
    });
  }

  static load(file: string = API_SCHEMA_FILE): ApiSchema {
    return new ApiSchema(JSON.parse(readFileSync(file, "utf8")));
  }

  /**
   * The endpoint for `method` and a still-encoded path (`/nodes/pve01/qemu/100/config`;
   * a volume ID in it keeps its `%2F`); the captured path parameters come back decoded.
   */
  endpoint(method: string, rawPath: string): Endpoint | undefined {
    for (const p of this.paths) {
      const schema = p.methods[method];
      if (!schema) continue;
      const m = p.regex.exec(rawPath);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      p.keys.forEach((k, i) => (pathParams[k] = safeDecode(m[i + 1])));
      return { template: p.template, pathParams, schema };
    }
    return undefined;
  }

  /** Verifies the parameters (path ones included) of a request; `{}` when they are fine. */
  static verify(schema: MethodSchema, params: Readonly<Record<string, string>>): Errors {
    const errors: Errors = {};
    checkObject(
      schema.parameters?.properties ?? {},
      params,
      "",
      schema.parameters?.additionalProperties,
      errors,
    );
    return errors;
  }
}
