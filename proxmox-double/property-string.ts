/**
 * Proxmox VE "property strings" (`local-lvm:vm-100-disk-0,size=40G,ssd=1`,
 * `virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=30`) and disk sizes, parsed and printed the
 * way qemu-server does: the default key first without `key=`, the others sorted by name.
 */
import { randomBytes } from "node:crypto";

/** An ordered key/value view of a property string. */
export type Props = Map<string, string>;

/** NIC models qemu-server accepts; `model=MAC` is its shorthand for model + macaddr. */
export const NIC_MODELS: ReadonlySet<string> = new Set([
  "e1000",
  "e1000-82540em",
  "e1000-82544gc",
  "e1000-82545em",
  "e1000e",
  "i82551",
  "i82557b",
  "i82559er",
  "ne2k_isa",
  "ne2k_pci",
  "pcnet",
  "rtl8139",
  "virtio",
  "vmxnet3",
]);

/**
 * Parses `a,b=c,d=e`. A leading item without `=` is stored under `defaultKey`; an item
 * whose key is a NIC model (`virtio=MAC`) becomes `model` + `macaddr`.
 */
export function parseProps(value: string, defaultKey?: string): Props {
  const props: Props = new Map();
  for (const raw of value.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq < 0) {
      if (defaultKey === undefined) throw new Error(`value without key: '${item}'`);
      props.set(defaultKey, item);
      continue;
    }
    const key = item.slice(0, eq);
    const val = item.slice(eq + 1);
    if (NIC_MODELS.has(key)) {
      props.set("model", key);
      props.set("macaddr", val);
    } else {
      props.set(key, val);
    }
  }
  return props;
}

/** Prints `defaultKey` value first (bare), then the other keys sorted by name. */
export function printProps(props: Props, defaultKey?: string): string {
  const parts: string[] = [];
  if (defaultKey !== undefined && props.has(defaultKey)) parts.push(props.get(defaultKey) ?? "");
  const keys = [...props.keys()].filter((k) => k !== defaultKey).sort();
  for (const k of keys) parts.push(`${k}=${props.get(k) ?? ""}`);
  return parts.join(",");
}

/** A drive (`scsi0`, `ide2`, `efidisk0`...): `file` is the default key. */
export function parseDrive(value: string): Props {
  return parseProps(value, "file");
}

export function printDrive(props: Props): string {
  return printProps(props, "file");
}

/** A NIC: `virtio=MAC,bridge=vmbr0`, `model=virtio,...` or `virtio,bridge=...` (model only). */
export function parseNet(value: string): Props {
  return parseProps(value, "model");
}

/** A NIC: printed as `model=MAC,` followed by the other keys sorted. */
export function printNet(props: Props): string {
  const rest = new Map(props);
  const model = rest.get("model") ?? "virtio";
  const mac = rest.get("macaddr") ?? "";
  rest.delete("model");
  rest.delete("macaddr");
  const tail = printProps(rest);
  return tail === "" ? `${model}=${mac}` : `${model}=${mac},${tail}`;
}

const UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Parses a qemu-server disk size (`40G`, `528K`, `42949672960`); no unit means bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT])?$/i.exec(value.trim());
  if (!m) throw new Error(`unable to parse size '${value}'`);
  const unit = m[2] ? UNITS[m[2].toUpperCase()] : 1;
  return Math.ceil(Number(m[1]) * unit);
}

/** Prints a size the way PVE::JSONSchema::format_size does: the largest exact unit. */
export function formatSize(bytes: number): string {
  const size = Math.floor(bytes);
  const kb = Math.floor(size / 1024);
  if (kb * 1024 !== size) return String(size);
  const mb = Math.floor(kb / 1024);
  if (mb * 1024 !== kb) return `${kb}K`;
  const gb = Math.floor(mb / 1024);
  if (gb * 1024 !== mb) return `${mb}M`;
  const tb = Math.floor(gb / 1024);
  if (tb * 1024 !== gb) return `${gb}G`;
  return `${tb}T`;
}

/** A random MAC with Proxmox's default prefix BC:24:11 (datacenter.cfg `mac_prefix`). */
export function randomMac(): string {
  const tail = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, "0").toUpperCase());
  return ["BC", "24", "11", ...tail].join(":");
}

/** IPv6 link-local address (EUI-64) of a MAC, as a guest reports it. */
export function linkLocalOf(mac: string): string {
  const b = mac.split(":").map((h) => parseInt(h, 16));
  const eui = [b[0] ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]];
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push(((eui[i] << 8) | eui[i + 1]).toString(16));
  return `fe80::${groups.join(":")}`;
}
