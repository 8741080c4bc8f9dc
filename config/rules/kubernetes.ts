/** Rules of the Kubernetes section: the release's facts, the pod and service networks, the VIP. */
import major from "semver/functions/major";
import minor from "semver/functions/minor";

import { show } from "../../errors/user-error";
import { MANAGED_VARIABLES } from "../../kubespray-vars/managed";
import { kubesprayRelease } from "../../kubespray-vars/releases";
import { DEFAULT_NODE_CIDR_PREFIX } from "../../kubespray-vars/vars";
import { ipToInt, overlaps, parseCidr } from "../net";

import type { Rule } from "./context";

const supportedVersion: Rule = ({ config, err }) => {
  const k8s = config.kubernetes;
  const release = kubesprayRelease(k8s.kubesprayVersion);
  if (k8s.version === undefined || release.kubernetes.includes(k8s.version)) return;
  const minors = [...new Set(release.kubernetes.map((v) => `${major(v)}.${minor(v)}`))];
  const ranges = minors.map((m) => {
    const patches = release.kubernetes.filter((v) => v.startsWith(`${m}.`));
    return `${patches[patches.length - 1]}-${patches[0]}`;
  });
  err(
    "kubernetes.version",
    `Kubernetes ${show(k8s.version)} is not supported by Kubespray ${k8s.kubesprayVersion}; use one of ${ranges.join(", ")} (newest ${release.kubernetes[0]})`,
  );
};

const knownExtraVars: Rule = ({ config, err }) => {
  const k8s = config.kubernetes;
  const release = kubesprayRelease(k8s.kubesprayVersion);
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
};

const cidrs: Rule = (c) => {
  c.noHostBits("kubernetes.podCidr", c.config.kubernetes.podCidr);
  c.noHostBits("kubernetes.serviceCidr", c.config.kubernetes.serviceCidr);
};

const disjointNetworks: Rule = ({ config, net, err }) => {
  const k8s = config.kubernetes;
  const pods = parseCidr(k8s.podCidr);
  const services = parseCidr(k8s.serviceCidr);
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
};

const podBlocks: Rule = ({ config, err }) => {
  const k8s = config.kubernetes;
  const pods = parseCidr(k8s.podCidr);
  if (!pods) return;
  if (k8s.nodeCidrPrefix <= pods.prefix) {
    // Name the field the user wrote: the pod network, unless nodeCidrPrefix left its default.
    if (k8s.nodeCidrPrefix === DEFAULT_NODE_CIDR_PREFIX) {
      err(
        "kubernetes.podCidr",
        `${k8s.podCidr} is not larger than one node's block of pod addresses (/${k8s.nodeCidrPrefix}, kubernetes.nodeCidrPrefix); use a pod network of /${k8s.nodeCidrPrefix - 1} or larger (e.g. /18), or a longer nodeCidrPrefix`,
      );
    } else {
      err(
        "kubernetes.nodeCidrPrefix",
        `per-node blocks of /${k8s.nodeCidrPrefix} do not fit in the pod network /${pods.prefix}; use a prefix longer than ${pods.prefix}`,
      );
    }
    return;
  }
  const blocks = 2 ** (k8s.nodeCidrPrefix - pods.prefix);
  const nodes = config.nodePools.reduce((sum, p) => sum + p.count, 0);
  if (blocks < nodes) {
    err(
      "kubernetes.podCidr",
      `${k8s.podCidr} holds ${blocks} per-node /${k8s.nodeCidrPrefix} blocks but the cluster has ${nodes} nodes; use a larger pod network or a longer nodeCidrPrefix`,
    );
  }
};

/** The API server VIP lies in the node network; it is claimed. */
const apiServerVip: Rule = (c) => {
  const vipText = c.config.kubernetes.apiServerVip;
  if (vipText === undefined) return;
  const vip = ipToInt(vipText);
  const range = { first: vip, last: vip };
  if (c.inNodeNetwork("kubernetes.apiServerVip", range, "the VIP"))
    c.claims.push({
      path: "kubernetes.apiServerVip",
      what: `the API server VIP ${vipText}`,
      range,
    });
};

export const KUBERNETES_RULES: readonly Rule[] = [
  supportedVersion,
  knownExtraVars,
  cidrs,
  disjointNetworks,
  podBlocks,
  apiServerVip,
];
