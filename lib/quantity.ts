/**
 * Kubernetes resource quantities (`100m`, `0.5`, `256Mi`, `1G`, `1e3`), as the API reads
 * them (k8s.io/apimachinery `resource.Quantity`): a signed decimal number, then a binary
 * suffix (`Ki` … `Ei`), a decimal one (`n` `u` `m` `k` `M` `G` `T` `P` `E`) or an exponent
 * (`e3`, `E-2`). Written here because @kubernetes/client-node's `quantityToScalar` throws
 * on a decimal with a suffix (`1.5Gi`), which charts do write.
 */

const BINARY: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;

/** The quantity's value in base units (cores, bytes); undefined when it is not one. */
export function parseQuantity(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) ? text : undefined;
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const [, number, suffix = ""] = m;
  const scale = BINARY[suffix] ?? DECIMAL[suffix] ?? 10 ** Number(suffix.slice(1));
  return Number(number) * scale;
}

/** CPU in millicores, rounded up as the API does (`0.1` → 100, `1.0005` → 1001). */
export function milliCpu(text: string | number): number | undefined {
  const cores = parseQuantity(text);
  return cores === undefined ? undefined : Math.ceil(Math.round(cores * 1e6) / 1e3);
}

/** Memory in bytes, rounded up to a whole byte. */
export function bytes(text: string | number): number | undefined {
  const value = parseQuantity(text);
  return value === undefined ? undefined : Math.ceil(value);
}

const Mi = 2 ** 20;
const Gi = 2 ** 30;

/** `1400m`, `2` (whole cores). */
export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? `${millicores / 1000}` : `${millicores}m`;
}

/** `1.5Gi` from 1 GiB up, `156Mi` below (rounded to a tenth and to a whole MiB). */
export function formatMemory(value: number): string {
  if (Math.abs(value) >= Gi) return `${Math.round((value / Gi) * 10) / 10}Gi`;
  return `${Math.round(value / Mi)}Mi`;
}
