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
  Partial<KubeProxyVariables> &
  Partial<MirrorVariables> &
  Partial<LocalPathVariables>;

/** How Ansible reaches every host: the inventory's `all.vars`. */
export interface ConnectionVariables {
  readonly ansible_user: string;
  readonly ansible_ssh_private_key_file: string;
}

/**
 * One host's variables in the inventory (Kubespray's docs/ansible/inventory.md), written
 * from the per-host fields of host-fields.ts.
 */
export interface HostVariables {
  /** Where Ansible connects; a literal, or a token until apply (DHCP). */
  readonly ansible_host: string;
  /** The address Kubernetes binds to and advertises. */
  readonly ip: string;
  readonly access_ip: string;
  readonly node_labels?: Readonly<Record<string, string>>;
  /** `key=value:Effect` or `key:Effect`. */
  readonly node_taints?: readonly string[];
}

/** The port the API servers listen on (Kubespray's `kube_apiserver_port` default). */
export const API_SERVER_PORT = 6443;
/** Kubespray's `kube_network_node_prefix` default: a /24 of pod addresses per node. */
export const DEFAULT_NODE_CIDR_PREFIX = 24;

/** The Kubernetes version a definition installs: its own, or the release's newest. */
export function kubernetesVersion(config: ClusterConfig): string {
  return (
    config.kubernetes.version ?? kubesprayRelease(config.kubernetes.kubesprayVersion).kubernetes[0]
  );
}

/** One registry's mirrors, as `containerd_registries_mirrors` lists them. */
export interface ContainerdRegistryMirror {
  readonly prefix: string;
  readonly mirrors: readonly {
    readonly host: string;
    readonly capabilities: readonly ("pull" | "resolve")[];
    readonly skip_verify: boolean;
  }[];
}

/** Mirrors for air-gapped nodes (`kubernetes.mirrors`); Kubespray's offline variables. */
export interface MirrorVariables {
  readonly containerd_registries_mirrors: readonly ContainerdRegistryMirror[];
  /** Base of the files mirror; the download hosts below are paths under it. */
  readonly files_repo: string;
  readonly github_url: string;
  readonly dl_k8s_io_url: string;
  readonly get_helm_url: string;
}

/** Kubespray's local path provisioner (`addons.storage.localPath`). */
export interface LocalPathVariables {
  readonly local_path_provisioner_enabled: true;
  readonly local_path_provisioner_claim_root: string;
  /** A string: Kubespray writes it into the StorageClass annotation as is. */
  readonly local_path_provisioner_is_default_storageclass: "true" | "false";
}

/** The mirror variables of a definition (none without `kubernetes.mirrors`). */
export function mirrorVariables(config: ClusterConfig): Partial<MirrorVariables> {
  const mirrors = config.kubernetes.mirrors;
  if (mirrors === undefined) return {};
  const registries = Object.entries(mirrors.registries);
  const files = mirrors.files?.replace(/\/+$/, "");
  return {
    ...(registries.length === 0
      ? {}
      : {
          containerd_registries_mirrors: registries.map(([prefix, hosts]) => ({
            prefix,
            mirrors: hosts.map((host) => ({
              host,
              capabilities: ["pull", "resolve"] as const,
              skip_verify: false,
            })),
          })),
        }),
    ...(files === undefined
      ? {}
      : {
          files_repo: files,
          // Kubespray builds every download URL from these hosts (offline.yml's layout).
          github_url: `${files}/github.com`,
          dl_k8s_io_url: `${files}/dl.k8s.io`,
          get_helm_url: `${files}/get.helm.sh`,
        }),
  };
}

/** The local path provisioner's variables (none without `addons.storage.localPath`). */
export function localPathVariables(config: ClusterConfig): Partial<LocalPathVariables> {
  const localPath = config.addons.storage?.localPath;
  if (localPath === undefined) return {};
  return {
    local_path_provisioner_enabled: true,
    local_path_provisioner_claim_root: localPath.claimRoot,
    local_path_provisioner_is_default_storageclass: localPath.default ? "true" : "false",
  };
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
  return {
    ...base,
    ...vip,
    ...strictArp,
    ...mirrorVariables(config),
    ...localPathVariables(config),
  };
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
