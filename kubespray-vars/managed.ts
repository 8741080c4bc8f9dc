/**
 * Kubespray variables the project sets itself, each with the definition field that drives
 * it. `kubernetes.extraVars` may not name these: the message points to the field instead.
 * Exactly the variables the inventory and group_vars renderers write (a test checks both
 * directions), so a name that is not here stays free for `extraVars`; the per-host ones
 * come from the table of host fields.
 */
import { HOST_VARIABLES_DEFINED_BY } from "./host-fields";

export const MANAGED_VARIABLES: Readonly<Record<string, string>> = {
  ...HOST_VARIABLES_DEFINED_BY,
  kube_version: "kubernetes.version",
  kube_network_plugin: "kubernetes.networkPlugin",
  container_manager: "kubernetes.containerRuntime",
  kube_pods_subnet: "kubernetes.podCidr",
  kube_service_addresses: "kubernetes.serviceCidr",
  kube_network_node_prefix: "kubernetes.nodeCidrPrefix",
  enable_nodelocaldns: "kubernetes.nodeLocalDns",
  metrics_server_enabled: "kubernetes.metricsServer",
  kube_vip_enabled: "kubernetes.apiServerVip",
  kube_vip_controlplane_enabled: "kubernetes.apiServerVip",
  kube_vip_address: "kubernetes.apiServerVip",
  kube_vip_arp_enabled: "kubernetes.apiServerVip",
  loadbalancer_apiserver: "kubernetes.apiServerVip",
  loadbalancer_apiserver_localhost: "kubernetes.apiServerVip",
  supplementary_addresses_in_ssl_keys: "kubernetes.apiServerVip",
  kube_proxy_strict_arp: "addons.metallb (or kubernetes.apiServerVip)",
  kubeconfig_localhost: "kubespray (always set: the kubeconfig is read back for the addons stack)",
  upstream_dns_servers: "network.dnsServers",
  containerd_registries_mirrors: "kubernetes.mirrors.registries",
  files_repo: "kubernetes.mirrors.files",
  github_url: "kubernetes.mirrors.files",
  dl_k8s_io_url: "kubernetes.mirrors.files",
  get_helm_url: "kubernetes.mirrors.files",
  local_path_provisioner_enabled: "addons.storage.localPath",
  local_path_provisioner_claim_root: "addons.storage.localPath.claimRoot",
  local_path_provisioner_is_default_storageclass: "addons.storage.localPath.default",
  ansible_user: "ssh.user",
  ansible_ssh_private_key_file: "ssh.privateKeyFile",
};
