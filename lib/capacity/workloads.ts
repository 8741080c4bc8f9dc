/**
 * The pods a rendered Helm release will run, read from its manifest: each workload's pod
 * template with what it requests and where it may be scheduled, and how many pods it
 * keeps (Deployment, StatefulSet and ReplicaSet replicas; one per node a DaemonSet may run
 * on; Jobs, CronJobs and Helm hooks only while they run). Two operators' custom resources
 * are read as the operator turns them into pods (prometheus-operator v0.93, the one
 * kube-prometheus-stack 88 ships): a Prometheus or an Alertmanager is a StatefulSet of
 * `replicas` pods requesting `resources` (an Alertmanager 200Mi of memory unless it says
 * otherwise, pkg/alertmanager/statefulset.go) plus the config-reloader sidecar with the
 * requests the operator is started with (`--config-reloader-cpu-request`,
 * `--config-reloader-memory-request`, 10m and 50Mi when not given). Other custom resources that make pods are listed
 * as not counted, with why.
 */
import { bytes, milliCpu } from "../quantity";

/** What a pod asks the scheduler for (memory in bytes). */
export interface Requests {
  readonly milliCpu: number;
  readonly memoryBytes: number;
}

export const NO_REQUESTS: Requests = { milliCpu: 0, memoryBytes: 0 };

export const addRequests = (a: Requests, b: Requests): Requests => ({
  milliCpu: a.milliCpu + b.milliCpu,
  memoryBytes: a.memoryBytes + b.memoryBytes,
});

const maxRequests = (a: Requests, b: Requests): Requests => ({
  milliCpu: Math.max(a.milliCpu, b.milliCpu),
  memoryBytes: Math.max(a.memoryBytes, b.memoryBytes),
});

/** A toleration as the API has it (`operator` defaults to Equal). */
export interface PodToleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}

export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

/** What of a pod the scheduler's filters read to pick its node. */
export interface PodPlacement {
  readonly requests: Requests;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly PodToleration[];
  /** Required node affinity: the node must match one term; undefined: any node. */
  readonly requiredTerms?: readonly NodeSelectorTerm[];
}

export interface Workload {
  readonly release: string;
  readonly namespace: string;
  /** `Deployment`, `DaemonSet`, `Job`, `Prometheus`, ... */
  readonly kind: string;
  readonly name: string;
  /** Pods it keeps; `per-node`: one on every node it may run on (a DaemonSet). */
  readonly pods: number | "per-node";
  /** Runs to completion (a Job, a CronJob's Job, a Helm hook): needs room only then. */
  readonly transient: boolean;
  readonly pod: PodPlacement;
}

/** A custom resource that makes pods whose requests are not known from the manifest. */
export interface Uncounted {
  readonly release: string;
  readonly kind: string;
  readonly name: string;
  readonly why: string;
}

export interface ReleaseWorkloads {
  readonly workloads: Workload[];
  readonly uncounted: Uncounted[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

interface Container {
  readonly resources?: {
    readonly requests?: Record<string, string | number>;
    readonly limits?: Record<string, string | number>;
  };
  readonly restartPolicy?: string;
}

/**
 * A container's requests: a resource it only limits requests its limit, as the API
 * server defaults it.
 */
function containerRequests(c: Container | undefined): Requests {
  const get = (name: string) => c?.resources?.requests?.[name] ?? c?.resources?.limits?.[name];
  const cpu = get("cpu");
  const memory = get("memory");
  return {
    milliCpu: cpu === undefined ? 0 : (milliCpu(cpu) ?? 0),
    memoryBytes: memory === undefined ? 0 : (bytes(memory) ?? 0),
  };
}

/**
 * What the scheduler counts for a pod (k8s.io/component-helpers resource.PodRequests): its
 * containers and sidecars (init containers that keep running) together, or an init
 * container with the sidecars started before it, whichever is larger.
 */
export function podRequests(spec: Obj, extra: readonly Container[] = []): Requests {
  let sidecars = NO_REQUESTS;
  let init = NO_REQUESTS;
  for (const c of (spec?.initContainers ?? []) as Container[]) {
    if (c.restartPolicy === "Always") sidecars = addRequests(sidecars, containerRequests(c));
    else init = maxRequests(init, addRequests(containerRequests(c), sidecars));
  }
  const containers = [...((spec?.containers ?? []) as Container[]), ...extra]
    .map(containerRequests)
    .reduce(addRequests, NO_REQUESTS);
  return maxRequests(addRequests(containers, sidecars), init);
}

function placement(spec: Obj, requests: Requests): PodPlacement {
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  return {
    requests,
    nodeSelector: (spec?.nodeSelector ?? {}) as Record<string, string>,
    tolerations: (spec?.tolerations ?? []) as PodToleration[],
    requiredTerms: required
      ? ((required.nodeSelectorTerms ?? []) as NodeSelectorTerm[])
      : undefined,
  };
}

const count = (n: unknown, fallback = 1): number =>
  typeof n === "number" && Number.isFinite(n) ? Math.max(0, n) : fallback;

const hookOf = (o: Obj): string => String(o?.metadata?.annotations?.["helm.sh/hook"] ?? "");

/** The config-reloader sidecar's requests, as the release's prometheus-operator is started. */
function configReloader(objects: readonly Obj[]): Container {
  const args = objects
    .filter((o) => o?.kind === "Deployment")
    .flatMap((o) => (o.spec?.template?.spec?.containers ?? []) as Obj[])
    .flatMap((c) => (c.args ?? []) as string[]);
  // Not given: the operator's defaults (cmd/operator/main.go, defaultReloaderCPU and
  // defaultReloaderMemory); "0" disables the request (the flags' help).
  const flag = (name: string, unset: string) => {
    const value = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? unset;
    return value === "0" ? undefined : value;
  };
  const cpu = flag("config-reloader-cpu-request", "10m");
  const memory = flag("config-reloader-memory-request", "50Mi");
  return {
    resources: {
      requests: {
        ...(cpu ? { cpu } : {}),
        ...(memory ? { memory } : {}),
      },
    },
  };
}

/** The workloads of one rendered release (its manifest's objects). */
export function releaseWorkloads(
  release: string,
  namespace: string,
  objects: readonly Obj[],
): ReleaseWorkloads {
  const workloads: Workload[] = [];
  const uncounted: Uncounted[] = [];
  const add = (o: Obj, pods: Workload["pods"], transient: boolean, pod: PodPlacement) =>
    workloads.push({
      release,
      namespace: String(o.metadata?.namespace ?? namespace),
      kind: String(o.kind),
      name: String(o.metadata?.name ?? ""),
      pods,
      transient,
      pod,
    });
  for (const o of objects) {
    if (o === null || typeof o !== "object") continue;
    const hook = hookOf(o);
    // Test hooks run only with `helm test`, which no deploy runs.
    if (hook.split(",").some((h) => h.trim().startsWith("test"))) continue;
    const isHook = hook !== "";
    const template = o.spec?.template?.spec;
    switch (o.kind) {
      case "Deployment":
      case "StatefulSet":
      case "ReplicaSet":
        add(o, count(o.spec?.replicas), isHook, placement(template, podRequests(template)));
        break;
      case "DaemonSet":
        add(o, "per-node", isHook, placement(template, podRequests(template)));
        break;
      case "Job":
        add(o, count(o.spec?.parallelism), true, placement(template, podRequests(template)));
        break;
      case "CronJob": {
        const job = o.spec?.jobTemplate?.spec;
        const spec = job?.template?.spec;
        add(o, count(job?.parallelism), true, placement(spec, podRequests(spec)));
        break;
      }
      case "Pod":
        add(o, 1, isHook, placement(o.spec, podRequests(o.spec)));
        break;
      case "Prometheus":
      case "Alertmanager": {
        if (!String(o.apiVersion).startsWith("monitoring.coreos.com/")) break;
        const resources = o.spec?.resources ?? {};
        const main: Container =
          o.kind === "Alertmanager" && resources.requests?.memory === undefined
            ? { resources: { ...resources, requests: { ...resources.requests, memory: "200Mi" } } }
            : { resources };
        const spec = { ...o.spec, containers: [main] };
        const pods =
          count(o.spec?.replicas) * (o.kind === "Prometheus" ? count(o.spec?.shards) : 1);
        add(o, pods, false, placement(spec, podRequests(spec, [configReloader(objects)])));
        break;
      }
      case "ThanosRuler":
        if (String(o.apiVersion).startsWith("monitoring.coreos.com/")) {
          uncounted.push({
            release,
            kind: o.kind,
            name: String(o.metadata?.name ?? ""),
            why: "prometheus-operator makes its pods; their requests are not read here",
          });
        }
        break;
      case "ClusterPolicy":
        if (String(o.apiVersion).startsWith("nvidia.com/")) {
          const requesting = Object.entries((o.spec ?? {}) as Record<string, Obj>)
            .filter(([, c]) => c?.resources?.requests !== undefined)
            .map(([k]) => k);
          uncounted.push({
            release,
            kind: o.kind,
            name: String(o.metadata?.name ?? ""),
            why:
              requesting.length === 0
                ? "the GPU Operator starts its operands (container toolkit, device plugin, DCGM exporter, validators) on the GPU nodes; none of them requests CPU or memory here"
                : `the GPU Operator starts its operands on the GPU nodes; the requests of ${requesting.join(", ")} are not counted`,
          });
        }
        break;
      default:
        break;
    }
  }
  return { workloads, uncounted };
}
