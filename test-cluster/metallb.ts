/**
 * MetalLB's controller, played on the test cluster, where its pod does not run: it gives a
 * LoadBalancer Service an address as MetalLB v0.16's controller does (`controller/service.go`
 * `convergeBalancer`, `internal/allocator`), and nothing more:
 *
 * - only while MetalLB's controller pod is Ready (kwok's, once the chart is installed);
 * - only from the `IPAddressPool`s in MetalLB's namespace; a configuration MetalLB refuses
 *   (a malformed address, overlapping pools) gives no address at all;
 * - a requested address (`metallb.io/loadBalancerIPs`, or the deprecated
 *   `spec.loadBalancerIP`, never both) only if a pool contains it, whatever its
 *   `autoAssign`; `metallb.io/address-pool` picks the pool; otherwise the first free address
 *   of a pool with `autoAssign` (MetalLB tries those in no fixed order; here by name);
 * - an address held by another Service only with the same `metallb.io/allow-shared-ip` key
 *   and no port in common; `avoidBuggyIPs` skips .0 and .255;
 * - Services with a `spec.loadBalancerClass` are another implementation's.
 *
 * It writes `status.loadBalancer.ingress` and the `metallb.io/ip-allocated-from-pool`
 * annotation, and MetalLB's events (`IPAllocated`, `AllocationFailed`, ...). IPv4 only:
 * IPv6 and dual-stack Services and pools, and `serviceAllocation`, are not played (logged).
 * Announcing the address (the speakers) has no counterpart here: no traffic flows.
 */
import type { KubeConfig, V1Service } from "@kubernetes/client-node";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";

import type { Ipv4Range } from "../config/net";
import { intToIp, ipToInt, isIpv4, parseCidr } from "../config/net";

import { recordEvent } from "./events";
import { ReconcileLoop } from "./reconcile-loop";

export const METALLB_NAMESPACE = "metallb-system";

const ANN_LOAD_BALANCER_IPS = "metallb.io/loadBalancerIPs";
const ANN_ADDRESS_POOL = "metallb.io/address-pool";
const ANN_ALLOW_SHARED_IP = "metallb.io/allow-shared-ip";
export const ANN_ALLOCATED_FROM_POOL = "metallb.io/ip-allocated-from-pool";
const DEPRECATED = (annotation: string) =>
  annotation.replace("metallb.io/", "metallb.universe.tf/");

/** An IPAddressPool as the API holds it (metallb.io/v1beta1). */
export interface IpAddressPoolResource {
  readonly metadata?: { readonly name?: string };
  readonly spec?: {
    readonly addresses?: readonly string[];
    readonly autoAssign?: boolean;
    readonly avoidBuggyIPs?: boolean;
    readonly serviceAllocation?: unknown;
  };
}

/** A pool as MetalLB's configuration holds it. */
export interface MetalLbPool {
  readonly name: string;
  /** Its addresses, in the order they are handed out. */
  readonly ranges: readonly Ipv4Range[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
}

/** The pools, or why MetalLB refuses the configuration. */
export type PoolsConfig =
  | { readonly pools: readonly MetalLbPool[] }
  | { readonly error: string; readonly notPlayed?: boolean };

/** `internal/config` `ParseCIDR`: `A-B`, or a CIDR (a bare address is not one). */
function parseAddresses(text: string, pool: string): Ipv4Range | string {
  const invalid = (why: string) =>
    `invalid CIDR ${JSON.stringify(text)} in pool ${JSON.stringify(pool)}: ${why}`;
  if (!text.includes("-")) {
    const cidr = parseCidr(text);
    if (cidr === undefined) return invalid(`invalid CIDR ${JSON.stringify(text)}`);
    return { first: cidr.first, last: cidr.last };
  }
  const [start, end] = text.split("-", 2).map((p) => p.trim());
  if (!isIpv4(start))
    return invalid(
      `invalid IP range ${JSON.stringify(text)}: invalid start IP ${JSON.stringify(start)}`,
    );
  if (!isIpv4(end))
    return invalid(
      `invalid IP range ${JSON.stringify(text)}: invalid end IP ${JSON.stringify(end)}`,
    );
  if (ipToInt(start) > ipToInt(end))
    return invalid(
      `invalid IP range ${JSON.stringify(text)}: start IP ${JSON.stringify(start)} is after the end IP ${JSON.stringify(end)}`,
    );
  return { first: ipToInt(start), last: ipToInt(end) };
}

/** MetalLB's pools from the IPAddressPools of its namespace, or why it refuses them. */
export function poolsConfig(resources: readonly IpAddressPoolResource[]): PoolsConfig {
  const pools: MetalLbPool[] = [];
  const all: { range: Ipv4Range; text: string; pool: string }[] = [];
  for (const resource of resources) {
    const name = resource.metadata?.name ?? "";
    const spec = resource.spec ?? {};
    if (spec.serviceAllocation !== undefined) {
      return { error: `pool ${name}: serviceAllocation is not played here`, notPlayed: true };
    }
    if ((spec.addresses ?? []).some((a) => a.includes(":"))) {
      return { error: `pool ${name}: IPv6 addresses are not played here`, notPlayed: true };
    }
    if ((spec.addresses ?? []).length === 0) {
      return { error: `parsing address pool ${name}: pool has no prefixes defined` };
    }
    const ranges: Ipv4Range[] = [];
    for (const text of spec.addresses ?? []) {
      const range = parseAddresses(text, name);
      if (typeof range === "string") return { error: `parsing address pool ${name}: ${range}` };
      const clash = all.find(
        (other) => range.first <= other.range.last && other.range.first <= range.last,
      );
      if (clash) {
        return {
          error: `addresses ${JSON.stringify(text)} in pool ${JSON.stringify(name)} overlap with ${JSON.stringify(clash.text)} of pool ${JSON.stringify(clash.pool)}`,
        };
      }
      all.push({ range, text, pool: name });
      ranges.push(range);
    }
    if (pools.some((p) => p.name === name))
      return { error: `duplicate definition of pool ${JSON.stringify(name)}` };
    pools.push({
      name,
      ranges,
      autoAssign: spec.autoAssign ?? true,
      avoidBuggyIPs: spec.avoidBuggyIPs ?? false,
    });
  }
  return { pools };
}

/** Go's `%q` of a list of addresses: `["10.0.0.1" "10.0.0.2"]`. */
function quoted(ips: readonly string[]): string {
  return `[${ips.map((ip) => JSON.stringify(ip)).join(" ")}]`;
}

interface Port {
  readonly proto: string;
  readonly port: number;
}
interface SharingKey {
  readonly sharing: string;
  readonly backend: string;
}
interface Allocation extends SharingKey {
  readonly pool: string;
  readonly ips: readonly string[];
  readonly ports: readonly Port[];
}

/** What MetalLB's controller knows of a Service. */
export interface ServiceView {
  /** `namespace/name`. */
  readonly key: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly type: string;
  readonly loadBalancerClass?: string;
  readonly loadBalancerIP?: string;
  readonly clusterIPs: readonly string[];
  readonly ipFamilies: readonly string[];
  readonly ports: readonly Port[];
  readonly externalTrafficPolicy?: string;
  readonly selector: Readonly<Record<string, string>>;
  /** `status.loadBalancer.ingress[].ip`. */
  readonly ingressIps: readonly string[];
}

export function serviceView(svc: V1Service): ServiceView {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  return {
    key: `${meta.namespace}/${meta.name}`,
    annotations: meta.annotations ?? {},
    type: spec.type ?? "ClusterIP",
    loadBalancerClass: spec.loadBalancerClass,
    loadBalancerIP: spec.loadBalancerIP,
    clusterIPs: spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []),
    ipFamilies: spec.ipFamilies ?? [],
    ports: (spec.ports ?? []).map((p) => ({ proto: p.protocol ?? "TCP", port: p.port })),
    externalTrafficPolicy: spec.externalTrafficPolicy,
    selector: spec.selector ?? {},
    ingressIps: (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : [])),
  };
}

export interface MetalLbEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

/** What the controller makes of a Service: its status and annotation, and its events. */
export interface ServiceOutcome {
  readonly key: string;
  /** The addresses it holds afterwards (empty: none); undefined: not MetalLB's to touch. */
  readonly ips?: readonly string[];
  /** The pool they come from. */
  readonly pool?: string;
  readonly events: readonly MetalLbEvent[];
  /** Why it was left alone, when it was (logged, not an event). */
  readonly skipped?: string;
}

/** `internal/allocator`: which Service holds which address, and which ports on it. */
class Allocator {
  private readonly allocated = new Map<string, Allocation>();
  private readonly sharingKeyForIp = new Map<string, SharingKey>();
  private readonly servicesOnIp = new Map<string, Set<string>>();
  private readonly portsInUse = new Map<string, Map<string, string>>();

  constructor(private readonly pools: readonly MetalLbPool[]) {}

  pool(svc: string): string | undefined {
    return this.allocated.get(svc)?.pool;
  }

  private poolFor(ips: readonly string[]): MetalLbPool | undefined {
    return this.pools.find((p) =>
      ips.every((ip) => {
        if (p.avoidBuggyIPs && buggy(ip)) return false;
        const n = ipToInt(ip);
        return p.ranges.some((r) => r.first <= n && n <= r.last);
      }),
    );
  }

  assign(
    svc: string,
    ips: readonly string[],
    ports: readonly Port[],
    key: SharingKey,
  ): string | undefined {
    const pool = this.poolFor(ips);
    if (pool === undefined) return `${quoted(ips)} is not allowed in config`;
    for (const ip of ips) {
      const problem = this.checkSharing(svc, ip, ports, key);
      if (problem !== undefined) return problem;
    }
    this.unassign(svc);
    this.allocated.set(svc, { pool: pool.name, ips, ports, ...key });
    for (const ip of ips) {
      this.sharingKeyForIp.set(ip, key);
      if (!this.servicesOnIp.has(ip)) this.servicesOnIp.set(ip, new Set());
      this.servicesOnIp.get(ip)!.add(svc);
      if (!this.portsInUse.has(ip)) this.portsInUse.set(ip, new Map());
      for (const port of ports) this.portsInUse.get(ip)!.set(`${port.proto}/${port.port}`, svc);
    }
    return undefined;
  }

  unassign(svc: string): void {
    const alloc = this.allocated.get(svc);
    if (alloc === undefined) return;
    this.allocated.delete(svc);
    for (const ip of alloc.ips) {
      const ports = this.portsInUse.get(ip);
      for (const port of alloc.ports) ports?.delete(`${port.proto}/${port.port}`);
      this.servicesOnIp.get(ip)?.delete(svc);
      if ((ports?.size ?? 0) === 0) {
        this.portsInUse.delete(ip);
        this.sharingKeyForIp.delete(ip);
      }
    }
  }

  private checkSharing(
    svc: string,
    ip: string,
    ports: readonly Port[],
    key: SharingKey,
  ): string | undefined {
    const existing = this.sharingKeyForIp.get(ip);
    if (existing === undefined) return undefined;
    if (sharingProblem(existing, key) !== undefined) {
      const others = [...(this.servicesOnIp.get(ip) ?? [])].filter((s) => s !== svc);
      if (others.length > 0)
        return `can't change sharing key for ${JSON.stringify(svc)}, address also in use by ${others.join(",")}`;
    }
    for (const port of ports) {
      const holder = this.portsInUse.get(ip)?.get(`${port.proto}/${port.port}`);
      if (holder !== undefined && holder !== svc)
        return `port ${port.proto}/${port.port} is already in use on ${JSON.stringify(ip)}`;
    }
    return undefined;
  }

  /** The first free address of `pool`, or undefined. */
  freeIp(
    pool: MetalLbPool,
    svc: string,
    ports: readonly Port[],
    key: SharingKey,
  ): string | undefined {
    for (const range of pool.ranges) {
      for (let n = range.first; n <= range.last; n++) {
        const ip = intToIp(n);
        if (pool.avoidBuggyIPs && buggy(ip)) continue;
        if (this.checkSharing(svc, ip, ports, key) === undefined) return ip;
      }
    }
    return undefined;
  }
}

const buggy = (ip: string) => /\.(0|255)$/.test(ip);

function sharingProblem(existing: SharingKey, key: SharingKey): string | undefined {
  if (existing.sharing === "") return "existing service does not allow sharing";
  if (key.sharing === "") return "new service does not allow sharing";
  if (existing.sharing !== key.sharing) return "sharing key does not match";
  if (existing.backend !== key.backend) return "backend key does not match";
  return undefined;
}

function annotation(svc: ServiceView, name: string): string {
  return svc.annotations[name] ?? svc.annotations[DEPRECATED(name)] ?? "";
}

function sharingKey(svc: ServiceView): SharingKey {
  const backend =
    svc.externalTrafficPolicy === "Local"
      ? Object.entries(svc.selector)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`)
          .join(",")
      : "";
  return { sharing: annotation(svc, ANN_ALLOW_SHARED_IP), backend };
}

/** `getDesiredLbIPs`: the addresses a Service asks for, or why its request is invalid. */
function desiredIps(svc: ServiceView): { ips: string[] } | { error: string } {
  const fromAnnotation = annotation(svc, ANN_LOAD_BALANCER_IPS);
  const fromSpec = svc.loadBalancerIP ?? "";
  if (fromAnnotation === "" && fromSpec === "") return { ips: [] };
  if (fromAnnotation !== "" && fromSpec !== "")
    return {
      error: `service can not have both ${ANN_LOAD_BALANCER_IPS} and svc.Spec.LoadBalancerIP`,
    };
  if (fromAnnotation !== "") {
    const ips = fromAnnotation.split(",").map((s) => s.trim());
    if (ips.some((ip) => !isIpv4(ip) && !ip.includes(":")))
      return { error: `invalid ${ANN_LOAD_BALANCER_IPS}: ${JSON.stringify(fromAnnotation)}` };
    // ipfamily.ForAddresses: one address, or one of each family.
    if (ips.length > 2)
      return { error: `IPFamilyForAddresses: invalid ips length ${ips.length} ${quoted(ips)}` };
    if (ips.length === 2 && ips[0].includes(":") === ips[1].includes(":"))
      return { error: `IPFamilyForAddresses: same address family ${quoted(ips)}` };
    return { ips };
  }
  if (!isIpv4(fromSpec) && !fromSpec.includes(":"))
    return { error: `invalid spec.loadBalancerIP ${JSON.stringify(fromSpec)}` };
  return { ips: [fromSpec] };
}

const sameIps = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((ip, i) => ip === [...b].sort()[i]);

/**
 * `convergeBalancer` for every Service, those already holding an address first (so that a
 * restart keeps them), each group in key order. IPv4 single-stack only.
 */
export function converge(
  services: readonly ServiceView[],
  pools: readonly MetalLbPool[],
): ServiceOutcome[] {
  const allocator = new Allocator(pools);
  const order = [...services].sort(
    (a, b) =>
      Number(b.ingressIps.length > 0) - Number(a.ingressIps.length > 0) ||
      a.key.localeCompare(b.key),
  );
  return order.map((svc) => convergeOne(svc, pools, allocator));
}

function convergeOne(
  svc: ServiceView,
  pools: readonly MetalLbPool[],
  allocator: Allocator,
): ServiceOutcome {
  const { key } = svc;
  if (svc.loadBalancerClass !== undefined)
    return { key, events: [], skipped: "another loadBalancerClass" };
  if (svc.type !== "LoadBalancer") {
    // It might have been a balancer: MetalLB clears what it manages.
    return { key, ips: [], events: [] };
  }
  if (svc.ipFamilies.some((f) => f !== "IPv4") || svc.clusterIPs.some((ip) => ip.includes(":")))
    return { key, events: [], skipped: "IPv6 and dual-stack Services are not played here" };
  if (pools.length === 0) return { key, ips: [], events: [] };
  if (svc.clusterIPs.length === 0) return { key, ips: [], events: [] };

  const ports = svc.ports;
  const sk = sharingKey(svc);
  const events: MetalLbEvent[] = [];
  let ips = [...svc.ingressIps];
  const desiredPool = annotation(svc, ANN_ADDRESS_POOL);
  const desired = desiredIps(svc);

  if (ips.length > 0) {
    const problem = allocator.assign(key, ips, ports, sk);
    if (problem !== undefined) {
      events.push({
        type: "Normal",
        reason: "ClearAssignment",
        message: `current IP for ${JSON.stringify(key)} not allowed by config, will attempt for new IP assignment: ${problem}`,
      });
      allocator.unassign(key);
      ips = [];
    }
    if (ips.length > 0 && desiredPool !== "" && allocator.pool(key) !== desiredPool) {
      allocator.unassign(key);
      ips = [];
    }
    if ("error" in desired) {
      events.push({
        type: "Warning",
        reason: "LoadBalancerFailed",
        message: `invalid requested loadbalancer IPs: ${desired.error}`,
      });
      return { key, ips, pool: allocator.pool(key), events };
    }
    if (desired.ips.length > 0 && !sameIps(ips, desired.ips)) {
      allocator.unassign(key);
      ips = [];
    }
  }

  if (ips.length === 0) {
    const allocated = allocate(svc, desired, desiredPool, pools, allocator, ports, sk);
    if ("error" in allocated) {
      events.push({
        type: "Warning",
        reason: "AllocationFailed",
        message: `Failed to allocate IP for ${JSON.stringify(key)}: ${allocated.error}`,
      });
      return { key, ips: [], events };
    }
    ips = allocated.ips;
    events.push({ type: "Normal", reason: "IPAllocated", message: `Assigned IP ${quoted(ips)}` });
  }
  return { key, ips, pool: allocator.pool(key), events };
}

/** `allocateIPs`: the requested addresses, a pool's first free one, or any auto-assign pool's. */
function allocate(
  svc: ServiceView,
  desired: { ips: string[] } | { error: string },
  desiredPool: string,
  pools: readonly MetalLbPool[],
  allocator: Allocator,
  ports: readonly Port[],
  sk: SharingKey,
): { ips: string[] } | { error: string } {
  if ("error" in desired) return desired;
  const { key } = svc;
  if (desired.ips.length > 0) {
    if (desired.ips.some((ip) => ip.includes(":")))
      return {
        error: `requested loadBalancer IP(s) ${quoted(desired.ips)} does not match the ipFamily of the service`,
      };
    const problem = allocator.assign(key, desired.ips, ports, sk);
    if (problem !== undefined) return { error: problem };
    if (desiredPool !== "" && allocator.pool(key) !== desiredPool) {
      allocator.unassign(key);
      return {
        error: `requested loadBalancer IP(s) ${quoted(desired.ips)} is not compatible with requested address pool ${desiredPool}`,
      };
    }
    return { ips: desired.ips };
  }
  if (desiredPool !== "") {
    const pool = pools.find((p) => p.name === desiredPool);
    if (pool === undefined) return { error: `unknown pool ${JSON.stringify(desiredPool)}` };
    const ip = allocator.freeIp(pool, key, ports, sk);
    if (ip === undefined) return { error: `no available IPs in pool ${pool.name}` };
    allocator.assign(key, [ip], ports, sk);
    return { ips: [ip] };
  }
  for (const pool of [...pools]
    .filter((p) => p.autoAssign)
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const ip = allocator.freeIp(pool, key, ports, sk);
    if (ip !== undefined && allocator.assign(key, [ip], ports, sk) === undefined)
      return { ips: [ip] };
  }
  return { error: "no available IPs" };
}

export interface MetalLbPlayOptions {
  /** The test cluster's admin client configuration. */
  readonly kubeConfig: KubeConfig;
  /** MetalLB's namespace: where its controller runs and reads the pools. @default "metallb-system" */
  readonly namespace?: string;
  /** Where the play says what it does. @default - nowhere */
  readonly log?: (line: string) => void;
}

/** The controller's pod, as the metallb chart labels it. */
const CONTROLLER_PODS = "app.kubernetes.io/name=metallb,app.kubernetes.io/component=controller";
const COMPONENT = "metallb-controller";

/** MetalLB's controller played; what it says of the configuration. */
export interface MetalLbPlay {
  readonly loop: ReconcileLoop;
  /**
   * Why MetalLB refuses the pools, as its controller logs it ("failed to parse the
   * configuration") and reports it in its ConfigurationState; undefined while it takes them.
   */
  configurationError(): string | undefined;
}

/** Starts playing MetalLB's controller on a test cluster; `loop.stop()` ends it. */
export function playMetalLb(options: MetalLbPlayOptions): MetalLbPlay {
  const namespace = options.namespace ?? METALLB_NAMESPACE;
  const log = options.log ?? (() => undefined);
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const said = new Map<string, string>();
  let configurationError: string | undefined;
  /** Each thing said once until it changes (a reconcile runs on every change of any Service). */
  const sayOnce = (about: string, line: string) => {
    if (said.get(about) === line) return false;
    said.set(about, line);
    log(line);
    return true;
  };

  const reconcile = async () => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: CONTROLLER_PODS });
    const ready = pods.items.some((p) =>
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    if (!ready) {
      sayOnce("controller", `no Ready MetalLB controller pod in ${namespace}: not acting`);
      return;
    }
    sayOnce("controller", `MetalLB's controller runs in ${namespace}: acting for it`);
    let resources: IpAddressPoolResource[];
    try {
      const list = (await custom.listNamespacedCustomObject({
        group: "metallb.io",
        version: "v1beta1",
        namespace,
        plural: "ipaddresspools",
      })) as { items: IpAddressPoolResource[] };
      resources = list.items;
    } catch (e) {
      if ((e as { code?: number }).code === 404) {
        sayOnce("pools", "no IPAddressPool resource (MetalLB's CRDs are not installed)");
        return;
      }
      throw e;
    }
    const config = poolsConfig(resources);
    configurationError = "error" in config ? config.error : undefined;
    if ("error" in config) {
      sayOnce("pools", `MetalLB refuses the configuration: ${config.error}`);
      return;
    }
    sayOnce("pools", `pools: ${config.pools.map((p) => p.name).join(", ") || "none"}`);
    const services = (await core.listServiceForAllNamespaces()).items;
    const byKey = new Map(services.map((s) => [serviceView(s).key, s]));
    for (const outcome of converge(services.map(serviceView), config.pools)) {
      const svc = byKey.get(outcome.key)!;
      if (outcome.skipped !== undefined) {
        sayOnce(outcome.key, `${outcome.key}: not played (${outcome.skipped})`);
        continue;
      }
      for (const event of outcome.events) {
        if (sayOnce(`${outcome.key} event`, `${outcome.key}: ${event.reason}: ${event.message}`))
          await recordEvent(core, { ...svc, kind: "Service" }, { ...event, component: COMPONENT });
      }
      await writeOutcome(core, svc, outcome);
    }
  };

  const loop = ReconcileLoop.start({
    kubeConfig: options.kubeConfig,
    watchPaths: [
      "/api/v1/services",
      `/api/v1/namespaces/${namespace}/pods`,
      `/apis/metallb.io/v1beta1/namespaces/${namespace}/ipaddresspools`,
    ],
    reconcile,
    log,
  });
  return { loop, configurationError: () => configurationError };
}

/** Writes the annotation (an update) and the status (the status subresource), if changed. */
async function writeOutcome(
  core: CoreV1Api,
  svc: V1Service,
  outcome: ServiceOutcome,
): Promise<void> {
  if (outcome.ips === undefined) return;
  const meta = svc.metadata!;
  const current = serviceView(svc);
  const annotations = { ...(meta.annotations ?? {}) };
  if (outcome.pool !== undefined && outcome.ips.length > 0)
    annotations[ANN_ALLOCATED_FROM_POOL] = outcome.pool;
  else delete annotations[ANN_ALLOCATED_FROM_POOL];
  let latest = svc;
  if (annotations[ANN_ALLOCATED_FROM_POOL] !== meta.annotations?.[ANN_ALLOCATED_FROM_POOL]) {
    latest = await core.replaceNamespacedService({
      name: meta.name!,
      namespace: meta.namespace!,
      body: { ...svc, apiVersion: "v1", kind: "Service", metadata: { ...meta, annotations } },
    });
  }
  if (sameIps(current.ingressIps, outcome.ips) && current.ingressIps.length === outcome.ips.length)
    return;
  await core.replaceNamespacedServiceStatus({
    name: meta.name!,
    namespace: meta.namespace!,
    body: {
      ...latest,
      apiVersion: "v1",
      kind: "Service",
      status: {
        ...latest.status,
        loadBalancer:
          outcome.ips.length === 0 ? {} : { ingress: outcome.ips.map((ip) => ({ ip })) },
      },
    },
  });
}
