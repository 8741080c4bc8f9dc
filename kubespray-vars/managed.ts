/**
 * Kubespray variables the project sets itself, each with the definition field that drives
 * it. `kubernetes.extraVars` may not name these: the message points to the field instead.
 * The group_vars renderer must only write variables listed here (a test checks it).
 */
export const MANAGED_VARIABLES: Readonly<Record<string, string>> = {
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
  kube_vip_interface: "kubernetes.apiServerVip",
  loadbalancer_apiserver: "kubernetes.apiServerVip",
  loadbalancer_apiserver_localhost: "kubernetes.apiServerVip",
  apiserver_loadbalancer_domain_name: "kubernetes.apiServerVip",
  supplementary_addresses_in_ssl_keys: "kubernetes.apiServerVip",
  kube_proxy_strict_arp: "addons.metallb",
  kube_proxy_mode: "addons.metallb",
  kubeconfig_localhost: "kubespray (always set: the kubeconfig is read back for the addons stack)",
  kubectl_localhost: "kubespray (always set)",
  cluster_name: "name",
  ansible_user: "ssh.user",
  ansible_ssh_private_key_file: "ssh.privateKeyFile",
  upstream_dns_servers: "network.dnsServers",
  node_labels: "nodePools[].labels",
  node_taints: "nodePools[].taints",
};
