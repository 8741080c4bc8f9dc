/**
 * Typed models of the Kubespray variables the project sets, and the group_vars they are
 * rendered into. Names and meanings are Kubespray v2.31.0's
 * (roles/kubespray_defaults/defaults/main/main.yml, docs/ingress/kube-vip.md).
 */
import type { ClusterConfig } from "../config/schema";

import { kubesprayRelease } from "./releases";

/** Kubernetes and networking: `group_vars/all/kubespray.yml`. */
export interface KubernetesVariables {
  /** Kubernetes version without the leading `v`, e.g. `1.35.4`. */
  readonly kube_version: string;
  readonly kube_network_plugin: string;
  readonly container_manager: string;
  readonly kube_pods_subnet: string;
  readonly kube_service_addresses: string;
  /** Prefix length of each node's pod block. */
  readonly kube_network_node_prefix: number;
  readonly enable_nodelocaldns: boolean;
  readonly metrics_server_enabled: boolean;
  /** Resolvers CoreDNS forwards to. */
  readonly upstream_dns_servers: readonly string[];
  /** Always true: Kubespray copies admin.conf to `<inventory>/artifacts/`. */
  readonly kubeconfig_localhost: true;
}

/** kube-vip announcing the API server VIP over ARP (only with `kubernetes.apiServerVip`). */
export interface ApiServerVipVariables {
  readonly kube_vip_enabled: true;
  readonly kube_vip_controlplane_enabled: true;
  readonly kube_vip_arp_enabled: true;
  readonly kube_vip_address: string;
  readonly loadbalancer_apiserver: { readonly address: string; readonly port: number };
  /** The VIP replaces the per-node nginx proxy. */
  readonly loadbalancer_apiserver_localhost: false;
  /** The VIP in the API server certificate. */
  readonly supplementary_addresses_in_ssl_keys: readonly string[];
}

/** kube-proxy in IPVS mode must answer ARP strictly for MetalLB's and kube-vip's L2 mode. */
export interface KubeProxyVariables {
  readonly kube_proxy_strict_arp: true;
}

export type KubesprayVariables = KubernetesVariables &
  Partial<ApiServerVipVariables> &
  Partial<KubeProxyVariables>;

/** The port the API servers listen on (Kubespray's `kube_apiserver_port` default). */
export const API_SERVER_PORT = 6443;

/** The Kubernetes version a definition installs: its own, or the release's newest. */
export function kubernetesVersion(config: ClusterConfig): string {
  return (
    config.kubernetes.version ?? kubesprayRelease(config.kubernetes.kubesprayVersion).kubernetes[0]
  );
}

/** The variables a definition implies, before `extraVars`. */
export function kubesprayVariables(config: ClusterConfig): KubesprayVariables {
  const k8s = config.kubernetes;
  const base: KubernetesVariables = {
    kube_version: kubernetesVersion(config),
    kube_network_plugin: k8s.networkPlugin,
    container_manager: k8s.containerRuntime,
    kube_pods_subnet: k8s.podCidr,
    kube_service_addresses: k8s.serviceCidr,
    kube_network_node_prefix: k8s.nodeCidrPrefix,
    enable_nodelocaldns: k8s.nodeLocalDns,
    metrics_server_enabled: k8s.metricsServer,
    upstream_dns_servers: config.network.dnsServers ?? [config.network.gateway],
    kubeconfig_localhost: true,
  };
  const vip: Partial<ApiServerVipVariables> =
    k8s.apiServerVip === undefined
      ? {}
      : {
          kube_vip_enabled: true,
          kube_vip_controlplane_enabled: true,
          kube_vip_arp_enabled: true,
          kube_vip_address: k8s.apiServerVip,
          loadbalancer_apiserver: { address: k8s.apiServerVip, port: API_SERVER_PORT },
          loadbalancer_apiserver_localhost: false,
          supplementary_addresses_in_ssl_keys: [k8s.apiServerVip],
        };
  const strictArp: Partial<KubeProxyVariables> =
    config.addons.metallb !== undefined || k8s.apiServerVip !== undefined
      ? { kube_proxy_strict_arp: true }
      : {};
  return { ...base, ...vip, ...strictArp };
}

/**
 * The content of `group_vars/all/kubespray.yml`: our variables with `extraVars` merged
 * (validation guarantees they never name one of ours), keys sorted for stable output.
 */
export function groupVars(config: ClusterConfig): Record<string, unknown> {
  const merged: Record<string, unknown> = {
    ...kubesprayVariables(config),
    ...config.kubernetes.extraVars,
  };
  return Object.fromEntries(
    Object.keys(merged)
      .sort()
      .map((k) => [k, merged[k]]),
  );
}
