/**
 * What Kubespray's kubelet configuration leaves of a node for pods (its allocatable
 * share), from its variables: the kubelet's `kubeReserved` and `systemReserved` from
 * `kube_*_reserved` and `system_*_reserved` (Kubespray's defaults in
 * roles/kubernetes/node/defaults/main.yml: 100m / 256Mi and 500m / 512Mi), the hard
 * eviction threshold for memory (`eviction_hard`; when it is empty, the kubelet's own
 * `memory.available<100Mi`) and `kubelet_max_pods` (110). The same figures are taken for
 * every node, control plane included. Whether Kubespray v2.31.0 writes `systemReserved` into
 * the kubelet's configuration when `system_reserved` is false was not checked against its
 * templates here: counting it errs on the side of "does not fit".
 */
import { UserError } from "../errors/user-error";
import { bytes, milliCpu } from "../lib/quantity";

/** The variables this reads, with Kubespray's defaults in {@link KUBELET_DEFAULTS}. */
export interface KubeletVariables {
  readonly kube_cpu_reserved: string;
  readonly kube_memory_reserved: string;
  readonly system_cpu_reserved: string;
  readonly system_memory_reserved: string;
  /** `{ "memory.available": "100Mi", ... }`; empty: the kubelet's defaults. */
  readonly eviction_hard: Readonly<Record<string, string>>;
  readonly kubelet_max_pods: number;
}

export const KUBELET_DEFAULTS: KubeletVariables = {
  kube_cpu_reserved: "100m",
  kube_memory_reserved: "256Mi",
  system_cpu_reserved: "500m",
  system_memory_reserved: "512Mi",
  eviction_hard: {},
  kubelet_max_pods: 110,
};

/** The kubelet's hard eviction threshold for memory when none is configured. */
const KUBELET_MEMORY_AVAILABLE = "100Mi";

/** The kubelet variables of a group_vars (`groupVars(config)`), Kubespray's defaults for the rest. */
export function kubeletVariables(vars: Readonly<Record<string, unknown>>): KubeletVariables {
  const pick = <K extends keyof KubeletVariables>(key: K): KubeletVariables[K] =>
    (vars[key] as KubeletVariables[K] | undefined) ?? KUBELET_DEFAULTS[key];
  return {
    kube_cpu_reserved: String(pick("kube_cpu_reserved")),
    kube_memory_reserved: String(pick("kube_memory_reserved")),
    system_cpu_reserved: String(pick("system_cpu_reserved")),
    system_memory_reserved: String(pick("system_memory_reserved")),
    eviction_hard: pick("eviction_hard"),
    kubelet_max_pods: Number(pick("kubelet_max_pods")),
  };
}

/** What a node offers pods: CPU in millicores, memory in bytes, a number of pods. */
export interface NodeResources {
  readonly milliCpu: number;
  readonly memoryBytes: number;
  readonly pods: number;
}

function quantity(name: string, value: string, parse: (v: string) => number | undefined) {
  const parsed = parse(value);
  if (parsed === undefined) {
    throw UserError.at(
      `kubernetes.extraVars.${name}`,
      `${JSON.stringify(value)} is not a Kubernetes quantity`,
      "write it as Kubespray does, e.g. 500m or 512Mi",
    );
  }
  return parsed;
}

/** The memory the kubelet keeps free before it evicts: bytes of `capacityBytes`. */
function evictionMemory(vars: KubeletVariables, capacityBytes: number): number {
  const configured = Object.keys(vars.eviction_hard).length > 0;
  const threshold = configured ? vars.eviction_hard["memory.available"] : KUBELET_MEMORY_AVAILABLE;
  if (threshold === undefined) return 0;
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(threshold);
  if (percent) return Math.ceil((capacityBytes * Number(percent[1])) / 100);
  return quantity("eviction_hard", threshold, bytes);
}

/**
 * A node's allocatable share of a VM with `cores` and `memoryMiB`: its capacity less the
 * reservations and the memory eviction threshold, never below zero (the kubelet reports
 * zero when the reservations exceed the machine).
 */
export function nodeAllocatable(
  vm: { readonly cores: number; readonly memoryMiB: number },
  vars: KubeletVariables,
): NodeResources {
  const capacityBytes = vm.memoryMiB * 2 ** 20;
  const cpu =
    vm.cores * 1000 -
    quantity("kube_cpu_reserved", vars.kube_cpu_reserved, milliCpu) -
    quantity("system_cpu_reserved", vars.system_cpu_reserved, milliCpu);
  const memory =
    capacityBytes -
    quantity("kube_memory_reserved", vars.kube_memory_reserved, bytes) -
    quantity("system_memory_reserved", vars.system_memory_reserved, bytes) -
    evictionMemory(vars, capacityBytes);
  return {
    milliCpu: Math.max(0, cpu),
    memoryBytes: Math.max(0, memory),
    pods: vars.kubelet_max_pods,
  };
}
