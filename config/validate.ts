/**
 * Rules that relate fields to each other: quorum, address allocation, overlaps with the
 * gateway, VIP, MetalLB pools and existing clusters, Kubespray facts, add-on prerequisites.
 * Each rule adds issues naming the field, the value and the fix; all are reported at once.
 */
import semver from "semver";

import { MANAGED_VARIABLES } from "../kubespray-vars/managed";
import { kubesprayRelease } from "../kubespray-vars/releases";
import { poolVmIdBase } from "../lib/topology";

import type { ConfigIssue } from "./errors";
import { show } from "./errors";
import type { IdRange, Ipv4Range } from "./net";
import {
  contains,
  formatIpRange,
  intToIp,
  ipToInt,
  isNetworkAddress,
  overlaps,
  parseCidr,
  parseIdRange,
  parseIpRange,
} from "./net";
import type { ClusterConfig } from "./schema";
import { PROXMOX_MAX_VMID, SUPPORTED_KUBESPRAY_VERSIONS } from "./schema";

export interface ValidationResult {
  readonly errors: ConfigIssue[];
  readonly warnings: ConfigIssue[];
}

/** Minimums: kubeadm needs 2 CPUs on a control plane; memory follows Kubespray's checks. */
export const MINIMUMS = {
  "control-plane": { cores: 2, memoryMiB: 2048, diskGiB: 20 },
  worker: { cores: 1, memoryMiB: 1024, diskGiB: 20 },
} as const;

const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const GIT_URL =
  /^(https?:\/\/[^\s/]+\/\S+|ssh:\/\/\S+@?[^\s/]+\/\S+|git@[^\s:]+:\S+|file:\/\/\/\S+)$/;

/** Checks a Kubernetes label key (`[prefix/]name`); returns what is wrong, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return "has more than one '/'";
  const [prefix, name] = parts.length === 2 ? parts : [undefined, parts[0]];
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return "has a prefix that is not a DNS subdomain";
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) {
    return "has a name that is not 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric";
  }
  return undefined;
}

/** Parses `key[=value]:Effect`; returns the problem, or undefined when valid. */
export function taintProblem(taint: string): string | undefined {
  const match = /^([^=:]+)(?:=([^:]*))?:([A-Za-z]+)$/.exec(taint);
  if (!match) return "is not key=value:Effect or key:Effect";
  const keyProblem = labelKeyProblem(match[1]);
  if (keyProblem) return `key ${keyProblem}`;
  if (match[2] !== undefined && (match[2].length > 63 || !LABEL_VALUE.test(match[2]))) {
    return "value is not a valid label value";
  }
  if (!TAINT_EFFECTS.includes(match[3])) return `effect must be ${TAINT_EFFECTS.join(", ")}`;
  return undefined;
}

/** A thing that holds addresses, for overlap messages. */
interface Claim {
  readonly path: string;
  readonly what: string;
  readonly range: Ipv4Range;
  /** MetalLB ranges and the ingress IP: the ingress IP lies inside a MetalLB range on purpose. */
  readonly kind?: "metallb" | "ingress";
}

/** Validates the relations between fields of a schema-valid definition. */
export function validateConfig(config: ClusterConfig): ValidationResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const err = (path: string, message: string) => errors.push({ path, message });
  const warn = (path: string, message: string) => warnings.push({ path, message });

  const net = parseCidr(config.network.cidr);
  if (net && !isNetworkAddress(config.network.cidr)) {
    err(
      "network.cidr",
      `${show(config.network.cidr)} has host bits set; write ${intToIp(net.first)}/${net.prefix}`,
    );
  }
  /** Checks that one address range is a usable part of the node network. */
  const inNodeNetwork = (path: string, range: Ipv4Range, what: string): boolean => {
    if (!net) return false;
    if (!contains(net, range)) {
      err(
        path,
        `${what} ${formatIpRange(range)} is outside the node network ${config.network.cidr}; use addresses inside it`,
      );
      return false;
    }
    if (net.prefix < 31 && (range.first === net.first || range.last === net.last)) {
      const which = range.first === net.first ? "network" : "broadcast";
      err(
        path,
        `${what} ${formatIpRange(range)} includes the ${which} address of ${config.network.cidr}; use host addresses`,
      );
      return false;
    }
    return true;
  };

  // Proxmox
  const hosts = new Set(config.proxmox.hosts);
  config.proxmox.hosts.forEach((h, i) => {
    if (config.proxmox.hosts.indexOf(h) !== i)
      err(`proxmox.hosts[${i}]`, `${show(h)} is listed twice; list each node once`);
  });
  const lastBlockEnd = poolVmIdBase(config, config.nodePools.length) - 1;
  if (lastBlockEnd > PROXMOX_MAX_VMID) {
    err(
      "proxmox.vmIdStart",
      `the VM ID blocks end at ${lastBlockEnd}, above Proxmox's maximum ${PROXMOX_MAX_VMID}; lower vmIdStart or vmIdsPerPool`,
    );
  }
  const clusterIds = { first: config.proxmox.vmIdStart, last: lastBlockEnd };
  if (
    config.proxmox.template.vmId >= clusterIds.first &&
    config.proxmox.template.vmId <= clusterIds.last
  ) {
    err(
      "proxmox.template.vmId",
      `template ${config.proxmox.template.vmId} lies inside this cluster's VM IDs ${clusterIds.first}-${clusterIds.last}; move vmIdStart`,
    );
  }

  // Gateway
  const gateway = { first: ipToInt(config.network.gateway), last: ipToInt(config.network.gateway) };
  inNodeNetwork("network.gateway", gateway, "gateway");

  // Pools
  const claims: Claim[] = [{ path: "network.gateway", what: "the gateway", range: gateway }];
  const poolNames = new Map<string, number>();
  let controlPlanes = 0;
  let firstControlPlanePool = -1;
  let lastControlPlanePool = -1;
  let totalNodes = 0;
  config.nodePools.forEach((pool, i) => {
    const at = `nodePools[${i}]`;
    const earlier = poolNames.get(pool.name);
    if (earlier !== undefined)
      err(
        `${at}.name`,
        `pool name ${show(pool.name)} is already used by nodePools[${earlier}]; pool names must be unique`,
      );
    else poolNames.set(pool.name, i);
    totalNodes += pool.count;
    if (pool.role === "control-plane") {
      controlPlanes += pool.count;
      if (firstControlPlanePool < 0) firstControlPlanePool = i;
      lastControlPlanePool = i;
    }
    const longest = `${config.name}-${pool.name}-${Math.max(pool.count, 1)}`;
    if (longest.length > 63) {
      err(
        `${at}.name`,
        `node name ${JSON.stringify(longest)} is ${longest.length} characters, longer than 63; shorten the cluster or pool name`,
      );
    }
    if (pool.count > config.proxmox.vmIdsPerPool) {
      err(
        `${at}.count`,
        `${pool.count} nodes do not fit in the pool's block of ${config.proxmox.vmIdsPerPool} VM IDs; raise proxmox.vmIdsPerPool`,
      );
    }
    const min = MINIMUMS[pool.role];
    if (pool.cores < min.cores)
      err(
        `${at}.cores`,
        `${pool.cores} is below the minimum of ${min.cores} for a ${pool.role} node; use at least ${min.cores}`,
      );
    if (pool.memoryMiB < min.memoryMiB)
      err(
        `${at}.memoryMiB`,
        `${pool.memoryMiB} is below the minimum of ${min.memoryMiB} MiB for a ${pool.role} node; use at least ${min.memoryMiB}`,
      );
    if (pool.diskGiB < min.diskGiB)
      err(
        `${at}.diskGiB`,
        `${pool.diskGiB} is below the minimum of ${min.diskGiB} GiB; use at least ${min.diskGiB}`,
      );
    pool.hosts?.forEach((h, j) => {
      if (!hosts.has(h))
        err(
          `${at}.hosts[${j}]`,
          `${show(h)} is not one of proxmox.hosts (${config.proxmox.hosts.join(", ")}); add it there or remove it here`,
        );
    });
    for (const key of Object.keys(pool.labels)) {
      const problem = labelKeyProblem(key);
      if (problem) err(`${at}.labels.${key}`, `label key ${show(key)} ${problem}`);
      const value = pool.labels[key];
      if (value.length > 63 || !LABEL_VALUE.test(value)) {
        err(
          `${at}.labels.${key}`,
          `label value ${show(value)} is not valid: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric`,
        );
      }
    }
    pool.taints.forEach((t, j) => {
      const problem = taintProblem(t);
      if (problem)
        err(
          `${at}.taints[${j}]`,
          `taint ${show(t)} ${problem}, e.g. nvidia.com/gpu=present:NoSchedule`,
        );
    });
    if (pool.firstIp !== undefined && pool.count > 0) {
      const first = ipToInt(pool.firstIp);
      const range = { first, last: first + pool.count - 1 };
      if (
        inNodeNetwork(`${at}.firstIp`, range, `the ${pool.count} addresses from ${pool.firstIp},`)
      ) {
        claims.push({
          path: `${at}.firstIp`,
          what: `pool ${pool.name}'s addresses ${formatIpRange(range)}`,
          range,
        });
      }
    }
  });
  if (controlPlanes === 0) {
    err(
      "nodePools",
      "no control-plane node; add a pool with role: control-plane and count 1, 3 or 5",
    );
  } else if (controlPlanes % 2 === 0) {
    err(
      `nodePools[${lastControlPlanePool}].count`,
      `${controlPlanes} control-plane nodes cannot keep etcd quorum; use 1, 3 or 5`,
    );
  }
  if (firstControlPlanePool >= 0 && config.nodePools[firstControlPlanePool].count === 0) {
    err(
      `nodePools[${firstControlPlanePool}].count`,
      "the first control-plane pool cannot be empty: its first node is Kubespray's first control-plane node",
    );
  }

  // Kubernetes
  const k8s = config.kubernetes;
  const supportedRelease = (SUPPORTED_KUBESPRAY_VERSIONS as readonly string[]).includes(
    k8s.kubesprayVersion,
  );
  if (!supportedRelease) {
    err(
      "kubernetes.kubesprayVersion",
      `Kubespray ${show(k8s.kubesprayVersion)} is not supported; use ${SUPPORTED_KUBESPRAY_VERSIONS.join(" or ")}`,
    );
  } else {
    const release = kubesprayRelease(k8s.kubesprayVersion);
    if (k8s.version !== undefined && !release.kubernetes.includes(k8s.version)) {
      const minors = [
        ...new Set(release.kubernetes.map((v) => `${semver.major(v)}.${semver.minor(v)}`)),
      ];
      const ranges = minors.map((m) => {
        const patches = release.kubernetes.filter((v) => v.startsWith(`${m}.`));
        return `${patches[patches.length - 1]}-${patches[0]}`;
      });
      err(
        "kubernetes.version",
        `Kubernetes ${show(k8s.version)} is not supported by Kubespray ${k8s.kubesprayVersion}; use one of ${ranges.join(", ")} (newest ${release.kubernetes[0]})`,
      );
    }
    for (const name of Object.keys(k8s.extraVars)) {
      const field = MANAGED_VARIABLES[name];
      if (field !== undefined) {
        err(`kubernetes.extraVars.${name}`, `${name} is set by this project; use ${field} instead`);
      } else if (!release.knownVariables.has(name)) {
        err(
          `kubernetes.extraVars.${name}`,
          `${name} is not a variable Kubespray ${k8s.kubesprayVersion} knows; check its spelling in the Kubespray docs`,
        );
      }
    }
  }
  const pods = parseCidr(k8s.podCidr);
  const services = parseCidr(k8s.serviceCidr);
  for (const [path, text] of [
    ["kubernetes.podCidr", k8s.podCidr],
    ["kubernetes.serviceCidr", k8s.serviceCidr],
  ] as const) {
    const c = parseCidr(text);
    if (c && !isNetworkAddress(text))
      err(path, `${show(text)} has host bits set; write ${intToIp(c.first)}/${c.prefix}`);
  }
  if (pods && services && overlaps(pods, services)) {
    err(
      "kubernetes.serviceCidr",
      `${k8s.serviceCidr} overlaps the pod network ${k8s.podCidr}; use disjoint ranges`,
    );
  }
  if (net && pods && overlaps(net, pods))
    err(
      "kubernetes.podCidr",
      `${k8s.podCidr} overlaps the node network ${config.network.cidr}; use a disjoint range`,
    );
  if (net && services && overlaps(net, services))
    err(
      "kubernetes.serviceCidr",
      `${k8s.serviceCidr} overlaps the node network ${config.network.cidr}; use a disjoint range`,
    );
  if (pods) {
    if (k8s.nodeCidrPrefix <= pods.prefix) {
      err(
        "kubernetes.nodeCidrPrefix",
        `per-node blocks of /${k8s.nodeCidrPrefix} do not fit in the pod network /${pods.prefix}; use a prefix longer than ${pods.prefix}`,
      );
    } else {
      const blocks = 2 ** (k8s.nodeCidrPrefix - pods.prefix);
      if (blocks < totalNodes) {
        err(
          "kubernetes.podCidr",
          `${k8s.podCidr} holds ${blocks} per-node /${k8s.nodeCidrPrefix} blocks but the cluster has ${totalNodes} nodes; use a larger pod network or a longer nodeCidrPrefix`,
        );
      }
    }
  }
  if (k8s.apiServerVip !== undefined) {
    const vip = ipToInt(k8s.apiServerVip);
    const range = { first: vip, last: vip };
    if (inNodeNetwork("kubernetes.apiServerVip", range, "the VIP")) {
      claims.push({
        path: "kubernetes.apiServerVip",
        what: `the API server VIP ${k8s.apiServerVip}`,
        range,
      });
    }
  }

  // Add-ons
  const addons = config.addons;
  const metallbRanges: Ipv4Range[] = [];
  addons.metallb?.addressPools.forEach((pool, i) => {
    pool.addresses.forEach((text, j) => {
      const path = `addons.metallb.addressPools[${i}].addresses[${j}]`;
      const range = parseIpRange(text);
      if (!range) return;
      if (range.first > range.last) {
        err(path, `range ${show(text)} starts after it ends; write the lower address first`);
        return;
      }
      if (inNodeNetwork(path, range, "MetalLB range")) {
        metallbRanges.push(range);
        claims.push({
          path,
          what: `MetalLB pool ${pool.name}'s range ${formatIpRange(range)}`,
          range,
          kind: "metallb",
        });
      }
    });
  });
  if (addons.ingress) {
    if (!addons.metallb) {
      err(
        "addons.ingress",
        "an ingress controller needs a MetalLB address pool, or its LoadBalancer Service never gets an address; add addons.metallb.addressPools",
      );
    }
    if (addons.ingress.controller === "ingress-nginx") {
      warn(
        "addons.ingress.controller",
        "ingress-nginx was retired upstream in March 2026 and gets no more fixes; Traefik is recommended",
      );
    }
    const ip = addons.ingress.loadBalancerIp;
    if (ip !== undefined) {
      const value = ipToInt(ip);
      claims.push({
        path: "addons.ingress.loadBalancerIp",
        what: `the ingress IP ${ip}`,
        range: { first: value, last: value },
        kind: "ingress",
      });
      if (addons.metallb && !metallbRanges.some((r) => value >= r.first && value <= r.last)) {
        err(
          "addons.ingress.loadBalancerIp",
          `${ip} is in no MetalLB address pool; pick an address from addons.metallb.addressPools`,
        );
      }
    }
  }
  const backends = addons.storage?.democraticCsi ?? [];
  const defaults = backends.map((b, i) => [b, i] as const).filter(([b]) => b.default);
  if (defaults.length > 1) {
    err(
      `addons.storage.democraticCsi[${defaults[1][1]}].default`,
      `${defaults.map(([b]) => b.name).join(" and ")} are both default StorageClasses; mark at most one default: true`,
    );
  }
  const backendNames = new Set<string>();
  backends.forEach((b, i) => {
    const at = `addons.storage.democraticCsi[${i}]`;
    if (backendNames.has(b.name))
      err(`${at}.name`, `${show(b.name)} is used twice; names must be unique`);
    backendNames.add(b.name);
    if (b.driver.endsWith("iscsi") && b.targetPortal === undefined)
      err(
        `${at}.targetPortal`,
        `the ${b.driver} driver needs the iSCSI portal; add targetPortal: HOST:3260`,
      );
    if (b.driver.endsWith("nfs") && b.shareHost === undefined)
      err(`${at}.shareHost`, `the ${b.driver} driver needs the NFS server; add shareHost: ADDRESS`);
  });
  const repoUrl = addons.argocd?.bootstrap?.repoUrl;
  if (repoUrl !== undefined && !GIT_URL.test(repoUrl)) {
    err(
      "addons.argocd.bootstrap.repoUrl",
      `${show(repoUrl)} is not a git URL; write https://HOST/OWNER/REPO.git or git@HOST:OWNER/REPO.git`,
    );
  }
  if (
    addons.gpuOperator?.enabled &&
    !config.nodePools.some((p) => p.gpu !== undefined && p.count > 0)
  ) {
    err(
      "addons.gpuOperator.enabled",
      "the GPU Operator needs a node pool with a GPU; add gpu.mapping to a pool or disable it",
    );
  }

  // Overlaps between every pair of claimed address ranges of this cluster.
  for (let a = 0; a < claims.length; a++) {
    for (let b = a + 1; b < claims.length; b++) {
      const kinds = new Set([claims[a].kind, claims[b].kind]);
      if (kinds.has("metallb") && kinds.has("ingress")) continue;
      if (overlaps(claims[a].range, claims[b].range)) {
        err(
          claims[b].path,
          `${claims[b].what} overlaps ${claims[a].what} (${claims[a].path}); make them disjoint`,
        );
      }
    }
  }

  // Coexistence with existing clusters.
  const ids: { path: string; range: IdRange }[] = config.nodePools
    .map((pool, i) => ({
      path: `nodePools[${i}].count`,
      range: { first: poolVmIdBase(config, i), last: poolVmIdBase(config, i) + pool.count - 1 },
    }))
    .filter((x) => x.range.last >= x.range.first);
  config.coexistence.existingClusters.forEach((other, c) => {
    const at = `coexistence.existingClusters[${c}]`;
    const theirs: Claim[] = [];
    const add = (path: string, what: string, text: string) => {
      const range = parseIpRange(text);
      if (!range) return;
      if (range.first > range.last)
        err(path, `range ${show(text)} starts after it ends; write the lower address first`);
      else theirs.push({ path, what, range });
    };
    other.nodeAddresses.forEach((t, j) =>
      add(`${at}.nodeAddresses[${j}]`, `node addresses ${t}`, t),
    );
    other.loadBalancerAddresses.forEach((t, j) =>
      add(`${at}.loadBalancerAddresses[${j}]`, `load balancer range ${t}`, t),
    );
    if (other.apiServerAddress !== undefined)
      add(`${at}.apiServerAddress`, `API server ${other.apiServerAddress}`, other.apiServerAddress);
    for (const mine of claims) {
      if (mine.path === "network.gateway") continue; // the router is shared on purpose
      for (const t of theirs) {
        if (overlaps(mine.range, t.range)) {
          err(
            mine.path,
            `${mine.what} collides with ${other.name}'s ${t.what} (${t.path}); pick addresses ${other.name} does not use`,
          );
        }
      }
    }
    other.vmIds.forEach((text, j) => {
      const range = parseIdRange(text);
      if (!range) return;
      if (range.first > range.last) {
        err(
          `${at}.vmIds[${j}]`,
          `range ${show(text)} starts after it ends; write the lower ID first`,
        );
        return;
      }
      for (const mine of ids) {
        if (overlaps(mine.range, range)) {
          err(
            mine.path,
            `VM IDs ${mine.range.first}-${mine.range.last} collide with ${other.name}'s VM IDs ${text} (${at}.vmIds[${j}]); move proxmox.vmIdStart`,
          );
        }
      }
      if (
        config.proxmox.template.vmId >= range.first &&
        config.proxmox.template.vmId <= range.last
      ) {
        warn(
          "proxmox.template.vmId",
          `template ${config.proxmox.template.vmId} is one of ${other.name}'s VM IDs; is it really the template?`,
        );
      }
    });
  });

  return { errors, warnings };
}
