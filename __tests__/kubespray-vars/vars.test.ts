import { join } from "node:path";

import { parse } from "yaml";

import { loadClusterConfig, parseClusterConfig } from "../../config/load";
import { MANAGED_VARIABLES } from "../../kubespray-vars/managed";
import { kubesprayRelease } from "../../kubespray-vars/releases";
import { groupVars, kubesprayVariables } from "../../kubespray-vars/vars";
import { renderFiles } from "../../lib/kubespray/render";
import { airGapped as airGappedDefinition } from "../fixtures/definitions";

const EXAMPLES = join(__dirname, "..", "..", "examples");
const homelab = loadClusterConfig(join(EXAMPLES, "homelab.yaml")).config;
const cloud = loadClusterConfig(join(EXAMPLES, "cloud-cluster.yaml")).config;
const airGapped = parseClusterConfig(airGappedDefinition()).config;
const cloudAddresses = {
  "cloud-controller-1": "192.168.100.11",
  "cloud-cpu-worker-1": "192.168.100.12",
  "cloud-gpu-worker-1": "192.168.100.13",
};
// Ansible's own connection variable, not a Kubespray one.
const ANSIBLE_OWN = new Set(["ansible_host"]);

/** Every variable name the rendered files set: group_vars, all.vars and host vars. */
function writtenVariables(files: Readonly<Record<string, string>>): Set<string> {
  const inv = parse(files["hosts.yaml"]) as {
    all: { vars: object; hosts: Record<string, object> };
  };
  const names = [
    ...Object.keys(parse(files["group_vars/all/kubespray.yml"]) as object),
    ...Object.keys(inv.all.vars),
    ...Object.values(inv.all.hosts).flatMap((h) => Object.keys(h)),
  ];
  return new Set(names.filter((n) => !ANSIBLE_OWN.has(n)));
}

describe("kubesprayVariables", () => {
  it("sets kube-vip, the LB address, SANs and strict ARP for the homelab VIP", () => {
    expect(kubesprayVariables(homelab)).toEqual({
      kube_version: "1.35.4",
      kube_network_plugin: "calico",
      container_manager: "containerd",
      kube_pods_subnet: "10.233.64.0/18",
      kube_service_addresses: "10.233.0.0/18",
      kube_network_node_prefix: 24,
      enable_nodelocaldns: true,
      metrics_server_enabled: true,
      upstream_dns_servers: ["10.10.30.1"],
      kubeconfig_localhost: true,
      kube_vip_enabled: true,
      kube_vip_controlplane_enabled: true,
      kube_vip_arp_enabled: true,
      kube_vip_address: "10.10.30.20",
      loadbalancer_apiserver: { address: "10.10.30.20", port: 6443 },
      loadbalancer_apiserver_localhost: false,
      supplementary_addresses_in_ssl_keys: ["10.10.30.20"],
      kube_proxy_strict_arp: true,
    });
  });

  it("sets no kube-vip without a VIP, and strict ARP for MetalLB", () => {
    const vars = kubesprayVariables(cloud);
    expect(vars.kube_vip_enabled).toBeUndefined();
    expect(vars.loadbalancer_apiserver).toBeUndefined();
    expect(vars.kube_proxy_strict_arp).toBe(true);
    expect(vars.kube_pods_subnet).toBe("10.244.0.0/16");
  });

  it("sets no strict ARP without MetalLB and VIP, and defaults the version to the newest", () => {
    const config = {
      ...cloud,
      addons: { ...cloud.addons, metallb: undefined },
      kubernetes: { ...cloud.kubernetes, version: undefined },
    };
    const vars = kubesprayVariables(config);
    expect(vars.kube_proxy_strict_arp).toBeUndefined();
    expect(vars.kube_version).toBe(kubesprayRelease("v2.31.0").kubernetes[0]);
  });

  it("points containerd and Kubespray's downloads at the mirrors, and enables local-path", () => {
    const vars = kubesprayVariables(airGapped);
    expect(vars.containerd_registries_mirrors).toEqual([
      {
        prefix: "docker.io",
        mirrors: [
          {
            host: "https://mirror.home.lan:5000",
            capabilities: ["pull", "resolve"],
            skip_verify: false,
          },
        ],
      },
      {
        prefix: "registry.k8s.io",
        mirrors: [
          {
            host: "https://mirror.home.lan:5001",
            capabilities: ["pull", "resolve"],
            skip_verify: false,
          },
          {
            host: "https://backup.home.lan",
            capabilities: ["pull", "resolve"],
            skip_verify: false,
          },
        ],
      },
    ]);
    expect(vars).toMatchObject({
      files_repo: "https://files.home.lan/kubespray",
      github_url: "https://files.home.lan/kubespray/github.com",
      dl_k8s_io_url: "https://files.home.lan/kubespray/dl.k8s.io",
      get_helm_url: "https://files.home.lan/kubespray/get.helm.sh",
      local_path_provisioner_enabled: true,
      local_path_provisioner_claim_root: "/var/lib/local-path",
      local_path_provisioner_is_default_storageclass: "false",
    });
    expect(kubesprayVariables(homelab).files_repo).toBeUndefined();
  });

  it("merges extraVars, keys sorted", () => {
    const config = {
      ...cloud,
      kubernetes: { ...cloud.kubernetes, extraVars: { etcd_deployment_type: "host" } },
    };
    const vars = groupVars(config);
    expect(vars.etcd_deployment_type).toBe("host");
    expect(Object.keys(vars)).toEqual([...Object.keys(vars)].sort());
  });
});

describe.each([
  ["homelab", renderFiles(homelab).files],
  ["cloud-cluster", renderFiles(cloud, { addresses: cloudAddresses }).files],
  ["air-gapped", renderFiles(airGapped).files],
])("variables written for %s", (_, files) => {
  const known = kubesprayRelease("v2.31.0").knownVariables;

  it("are all known to Kubespray v2.31.0", () => {
    expect([...writtenVariables(files)].filter((v) => !known.has(v))).toEqual([]);
  });

  it("are all listed in MANAGED_VARIABLES", () => {
    expect([...writtenVariables(files)].filter((v) => !(v in MANAGED_VARIABLES))).toEqual([]);
  });
});

it("MANAGED_VARIABLES lists only variables the examples (and the air-gapped one) write", () => {
  const written = new Set([
    ...writtenVariables(renderFiles(homelab).files),
    ...writtenVariables(renderFiles(cloud, { addresses: cloudAddresses }).files),
    ...writtenVariables(renderFiles(airGapped).files),
  ]);
  expect(Object.keys(MANAGED_VARIABLES).filter((v) => !written.has(v))).toEqual([]);
});
