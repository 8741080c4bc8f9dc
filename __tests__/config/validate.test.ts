/**
 * Rules that relate fields to each other (config/validate.ts). Each test starts from a
 * valid reference definition, changes one thing and asserts the field path and the key
 * words of the message (the value received and the fix).
 */
import { labelKeyProblem, taintProblem } from "../../config/kubernetes-names";
import { validateConfig } from "../../config/validate";
import type { Definition } from "../fixtures/definitions";
import {
  accept,
  airGapped,
  cloud,
  expectProblem,
  homelab,
  homelabProblems,
  minimal,
  problems,
  withImage,
} from "../fixtures/definitions";

/** Problems of a cloud-cluster definition after one change. */
function cloudProblems(mutate: (d: Definition) => void): string[] {
  const d = cloud();
  mutate(d);
  return problems(d);
}

describe("reference definitions", () => {
  test("homelab has no cross-field problem and no warning", () => {
    const { config } = accept(homelab());
    expect(validateConfig(config)).toEqual({ errors: [], warnings: [] });
  });

  test("cloud-cluster gets exactly the ingress-nginx warning", () => {
    const { config } = accept(cloud());
    const { errors, warnings } = validateConfig(config);
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].path).toBe("addons.ingress.controller");
    expect(warnings[0].message).toMatch(/ingress-nginx was retired upstream in March 2026/);
    expect(warnings[0].message).toMatch(/Traefik is recommended/);
  });
});

describe("proxmox", () => {
  test("rejects a host listed twice", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.hosts = ["pve01", "pve02", "pve01"])),
      "proxmox.hosts[2]",
      '"pve01" is listed twice',
    );
  });

  test("rejects VM ID blocks that run past Proxmox's maximum", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.vmIdStart = 999_999_950)),
      "proxmox.vmIdStart",
      "end at 1000000149",
      "above Proxmox's maximum 999999999",
      "lower vmIdStart or vmIdsPerPool",
    );
  });

  test("rejects a template inside the cluster's VM ID range", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.template.vmId = 4150)),
      "proxmox.template.vmId",
      "template 4150 lies inside this cluster's VM IDs 4100-4299",
      "move vmIdStart",
    );
  });

  test("rejects a pool with more nodes than its VM ID block", () => {
    expectProblem(
      homelabProblems((d) => {
        d.proxmox.vmIdsPerPool = 2;
        d.proxmox.template.vmId = 9000;
      }),
      "nodePools[0].count",
      "3 nodes do not fit in the pool's block of 2 VM IDs",
      "raise proxmox.vmIdsPerPool",
    );
  });

  test("rejects pool hosts that are not Proxmox hosts", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].hosts = ["pve02", "pve09"])),
      "nodePools[1].hosts[1]",
      '"pve09" is not one of proxmox.hosts (pve01, pve02, pve03)',
      "add it there",
    );
  });
});

describe("network", () => {
  test("rejects a CIDR with host bits set", () => {
    expectProblem(
      homelabProblems((d) => (d.network.cidr = "10.10.30.1/24")),
      "network.cidr",
      '"10.10.30.1/24" has host bits set',
      "write 10.10.30.0/24",
    );
  });

  test("rejects a gateway outside the network", () => {
    expectProblem(
      homelabProblems((d) => (d.network.gateway = "10.10.31.1")),
      "network.gateway",
      "gateway 10.10.31.1 is outside the node network 10.10.30.0/24",
    );
  });

  test("rejects the network address as gateway", () => {
    expectProblem(
      homelabProblems((d) => (d.network.gateway = "10.10.30.0")),
      "network.gateway",
      "includes the network address of 10.10.30.0/24",
      "use host addresses",
    );
  });

  test("rejects the broadcast address as gateway", () => {
    expectProblem(
      homelabProblems((d) => (d.network.gateway = "10.10.30.255")),
      "network.gateway",
      "includes the broadcast address of 10.10.30.0/24",
    );
  });
});

describe("node pools", () => {
  test("rejects duplicate pool names", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].name = "cp")),
      "nodePools[1].name",
      'pool name "cp" is already used by nodePools[0]',
      "must be unique",
    );
  });

  test("rejects node names longer than 63 characters", () => {
    const pool = `p${"o".repeat(55)}`;
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].name = pool)),
      "nodePools[1].name",
      `"kspray-${pool}-3" is 65 characters, longer than 63`,
      "shorten the cluster or pool name",
    );
  });

  test("rejects a cluster without a control-plane node", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[0].role = "worker")),
      "nodePools",
      "no control-plane node",
      "role: control-plane",
    );
  });

  test("rejects a control-plane pool of zero nodes", () => {
    const lines = homelabProblems((d) => (d.nodePools[0].count = 0));
    expectProblem(lines, "nodePools", "no control-plane node");
  });

  test.each([2, 4])("rejects %d control-plane nodes", (count) => {
    const lines = homelabProblems((d) => (d.nodePools[0].count = count));
    expect(lines).toContain(
      `nodePools[0].count: ${count} control-plane nodes cannot keep etcd quorum; use 1, 3 or 5`,
    );
  });

  test("counts control-plane nodes over every control-plane pool", () => {
    const lines = homelabProblems((d) =>
      d.nodePools.push({ name: "cp-extra", role: "control-plane", count: 1, cores: 4 }),
    );
    expectProblem(lines, "nodePools[2].count", "4 control-plane nodes cannot keep etcd quorum");
  });

  test("rejects an empty first control-plane pool before a non-empty one", () => {
    const lines = homelabProblems((d) =>
      d.nodePools.unshift({ name: "cp0", role: "control-plane", count: 0, cores: 4 }),
    );
    expectProblem(lines, "nodePools[0].count", "the first control-plane pool cannot be empty");
  });

  test.each([
    ["control-plane", 0, "cores", 1, "1 is below the minimum of 2 for a control-plane node"],
    ["control-plane", 0, "memoryMiB", 1024, "1024 is below the minimum of 2048 MiB"],
    ["control-plane", 0, "diskGiB", 10, "10 is below the minimum of 20 GiB"],
    ["worker", 1, "memoryMiB", 768, "768 is below the minimum of 1024 MiB for a worker node"],
    ["worker", 1, "diskGiB", 19, "19 is below the minimum of 20 GiB"],
  ] as const)("rejects a %s node with too little: %s %s", (_role, pool, field, value, words) => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[pool][field] = value)),
      `nodePools[${pool}].${field}`,
      words,
      "use at least",
    );
  });

  test("accepts a worker with one core", () => {
    const d = homelab();
    d.nodePools[1].cores = 1;
    expect(() => accept(d)).not.toThrow();
  });

  describe("static addresses", () => {
    test("rejects addresses outside the subnet", () => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].firstIp = "10.10.31.31")),
        "nodePools[1].firstIp",
        "pool worker's 3 addresses 10.10.31.31-10.10.31.33 are outside the node network 10.10.30.0/24; use addresses inside it",
      );
    });

    test("names one address as one, without repeating it", () => {
      expectProblem(
        homelabProblems((d) => {
          d.nodePools[1].count = 1;
          d.nodePools[1].firstIp = "10.10.31.31";
        }),
        "nodePools[1].firstIp",
        "pool worker's address 10.10.31.31 is outside the node network 10.10.30.0/24; use addresses inside it",
      );
    });

    test("rejects addresses that run into the broadcast address", () => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].firstIp = "10.10.30.253")),
        "nodePools[1].firstIp",
        "pool worker's 3 addresses 10.10.30.253-10.10.30.255 include the broadcast address",
      );
    });

    test("rejects addresses that run past the end of the subnet", () => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].firstIp = "10.10.30.254")),
        "nodePools[1].firstIp",
        "pool worker's 3 addresses 10.10.30.254-10.10.31.0 are outside the node network",
      );
    });

    test("rejects the network address", () => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].firstIp = "10.10.30.0")),
        "nodePools[1].firstIp",
        "pool worker's 3 addresses 10.10.30.0-10.10.30.2 include the network address",
      );
    });

    test("rejects addresses overlapping another pool", () => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].firstIp = "10.10.30.23")),
        "nodePools[1].firstIp",
        "pool worker's addresses 10.10.30.23-10.10.30.25 overlaps pool cp's addresses 10.10.30.21-10.10.30.23 (nodePools[0].firstIp)",
        "make them disjoint",
      );
    });

    test("rejects addresses overlapping the gateway", () => {
      expectProblem(
        homelabProblems((d) => (d.network.gateway = "10.10.30.32")),
        "nodePools[1].firstIp",
        "overlaps the gateway",
        "(network.gateway)",
      );
    });

    test("rejects addresses overlapping the VIP", () => {
      expectProblem(
        homelabProblems((d) => (d.kubernetes.apiServerVip = "10.10.30.22")),
        "kubernetes.apiServerVip",
        "the API server VIP 10.10.30.22 overlaps pool cp's addresses",
        "(nodePools[0].firstIp)",
      );
    });

    test("rejects addresses overlapping a MetalLB range", () => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].firstIp = "10.10.30.198")),
        "addons.metallb.addressPools[0].addresses[0]",
        "MetalLB pool default's range 10.10.30.200-10.10.30.229 overlaps pool worker's addresses 10.10.30.198-10.10.30.200",
      );
    });

    test("rejects addresses overlapping the ingress IP", () => {
      expectProblem(
        homelabProblems((d) => (d.addons.ingress.loadBalancerIp = "10.10.30.32")),
        "addons.ingress.loadBalancerIp",
        "the ingress IP 10.10.30.32 overlaps pool worker's addresses",
        "(nodePools[1].firstIp)",
      );
    });

    test("allows the ingress IP inside its MetalLB range", () => {
      const d = homelab();
      d.addons.ingress.loadBalancerIp = "10.10.30.229";
      expect(() => accept(d)).not.toThrow();
    });
  });

  describe("labels and taints", () => {
    test.each([
      ["a key with a space", { "node role": "x" }, 'label key "node role" has a name'],
      ["a key with two slashes", { "a/b/c": "x" }, "has more than one '/'"],
      [
        "a key with a bad prefix",
        { "Example.com/role": "x" },
        "prefix that is not a DNS subdomain",
      ],
      ["a key longer than 63", { [`k${"e".repeat(63)}`]: "x" }, "has a name that is not 1-63"],
      ["a value with a space", { tier: "front end" }, 'label value "front end" is not valid'],
      ["a value ending in a dash", { tier: "front-" }, 'label value "front-" is not valid'],
      ["a value longer than 63", { tier: "v".repeat(64) }, "is not valid: at most 63"],
    ])("rejects a label with %s", (_what, labels, words) => {
      const key = Object.keys(labels)[0];
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].labels = labels)),
        `nodePools[1].labels.${key}`,
        words,
      );
    });

    test.each([
      ["a bad effect", "gpu=yes:NoRun", "effect must be NoSchedule, PreferNoSchedule, NoExecute"],
      ["no effect", "gpu=yes", "is not key=value:Effect or key:Effect"],
      ["a bad key", "gpu card=yes:NoSchedule", "key has a name that is not"],
      ["a bad value", "gpu=a b:NoSchedule", "value is not a valid label value"],
    ])("rejects a taint with %s", (_what, taint, words) => {
      expectProblem(
        homelabProblems((d) => (d.nodePools[1].taints = ["dedicated:NoSchedule", taint])),
        "nodePools[1].taints[1]",
        JSON.stringify(taint),
        words,
        "e.g. nvidia.com/gpu=present:NoSchedule",
      );
    });

    test("accepts the taint and label forms Kubernetes accepts", () => {
      expect(taintProblem("nvidia.com/gpu=present:NoSchedule")).toBeUndefined();
      expect(taintProblem("dedicated:NoExecute")).toBeUndefined();
      expect(taintProblem("dedicated=:PreferNoSchedule")).toBeUndefined();
      expect(labelKeyProblem("node.kubernetes.io/instance-type")).toBeUndefined();
      expect(labelKeyProblem("gpu_type")).toBeUndefined();
    });
  });
});

describe("kubernetes", () => {
  test("rejects an unsupported Kubespray release", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.kubesprayVersion = "v2.30.0")),
      "kubernetes.kubesprayVersion",
      'Kubespray "v2.30.0" is not supported',
      "use v2.31.0",
    );
  });

  test("rejects a Kubernetes version the release does not support, listing the ones it does", () => {
    const lines = homelabProblems((d) => (d.kubernetes.version = "1.32.0"));
    expect(lines).toEqual([
      'kubernetes.version: Kubernetes "1.32.0" is not supported by Kubespray v2.31.0; use one of 1.35.0-1.35.4, 1.34.0-1.34.7, 1.33.0-1.33.11 (newest 1.35.4)',
    ]);
  });

  test("rejects a Kubernetes version with a v prefix", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.version = "v1.35.4")),
      "kubernetes.version",
      '"v1.35.4" is not supported',
    );
  });

  test("rejects overlapping pod and service networks", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.serviceCidr = "10.233.96.0/20")),
      "kubernetes.serviceCidr",
      "10.233.96.0/20 overlaps the pod network 10.233.64.0/18",
      "use disjoint ranges",
    );
  });

  test("rejects a pod network overlapping the node network", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.podCidr = "10.10.0.0/16")),
      "kubernetes.podCidr",
      "10.10.0.0/16 overlaps the node network 10.10.30.0/24",
    );
  });

  test("rejects a service network overlapping the node network", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.serviceCidr = "10.10.30.0/24")),
      "kubernetes.serviceCidr",
      "10.10.30.0/24 overlaps the node network 10.10.30.0/24",
    );
  });

  test.each(["podCidr", "serviceCidr"])("rejects a %s with host bits set", (field) => {
    const value = field === "podCidr" ? "10.233.65.0/18" : "10.233.1.0/18";
    expectProblem(
      homelabProblems((d) => (d.kubernetes[field] = value)),
      `kubernetes.${field}`,
      `"${value}" has host bits set`,
      "write 10.233.",
    );
  });

  test("rejects a pod network too small for a block per node", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.podCidr = "10.233.64.0/22")),
      "kubernetes.podCidr",
      "holds 4 per-node /24 blocks but the cluster has 6 nodes",
      "use a larger pod network or a longer nodeCidrPrefix",
    );
  });

  test("blames a pod network smaller than one node's block on podCidr, the field written", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.podCidr = "10.233.64.0/26")),
      "kubernetes.podCidr",
      "10.233.64.0/26 is not larger than one node's block of pod addresses (/24, kubernetes.nodeCidrPrefix)",
      "use a pod network of /23 or larger",
    );
  });

  test("rejects per-node blocks not smaller than the pod network", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.nodeCidrPrefix = 18)),
      "kubernetes.nodeCidrPrefix",
      "per-node blocks of /18 do not fit in the pod network /18",
      "longer than 18",
    );
  });

  describe("API server VIP", () => {
    test("rejects a VIP outside the node network", () => {
      expectProblem(
        homelabProblems((d) => (d.kubernetes.apiServerVip = "10.10.31.20")),
        "kubernetes.apiServerVip",
        "the VIP 10.10.31.20 is outside the node network 10.10.30.0/24",
      );
    });

    test("rejects a VIP that is a node's address", () => {
      expectProblem(
        homelabProblems((d) => (d.kubernetes.apiServerVip = "10.10.30.31")),
        "kubernetes.apiServerVip",
        "overlaps pool worker's addresses",
      );
    });

    test("rejects a VIP that is the gateway", () => {
      expectProblem(
        homelabProblems((d) => (d.kubernetes.apiServerVip = "10.10.30.1")),
        "kubernetes.apiServerVip",
        "the API server VIP 10.10.30.1 overlaps the gateway",
      );
    });

    test("rejects a VIP inside a MetalLB range", () => {
      expectProblem(
        homelabProblems((d) => (d.kubernetes.apiServerVip = "10.10.30.210")),
        "addons.metallb.addressPools[0].addresses[0]",
        "overlaps the API server VIP 10.10.30.210 (kubernetes.apiServerVip)",
      );
    });
  });

  describe("extraVars", () => {
    test("rejects a variable Kubespray does not know", () => {
      expect(
        homelabProblems((d) => (d.kubernetes.extraVars = { kube_proxy_modee: "ipvs" })),
      ).toEqual([
        "kubernetes.extraVars.kube_proxy_modee: kube_proxy_modee is not a variable Kubespray v2.31.0 knows; check its spelling in the Kubespray docs",
      ]);
    });

    test.each([
      ["kube_version", "kubernetes.version"],
      ["kube_pods_subnet", "kubernetes.podCidr"],
      ["kube_network_plugin", "kubernetes.networkPlugin"],
      ["kube_vip_address", "kubernetes.apiServerVip"],
    ])("rejects %s, which the project sets, naming %s", (name, field) => {
      expectProblem(
        homelabProblems((d) => (d.kubernetes.extraVars = { [name]: "x" })),
        `kubernetes.extraVars.${name}`,
        `${name} is set by this project; use ${field} instead`,
      );
    });

    test("accepts a variable Kubespray knows", () => {
      const d = homelab();
      d.kubernetes.extraVars = { kube_proxy_nodeport_addresses_cidr: "10.10.30.0/24" };
      expect(accept(d).config.kubernetes.extraVars).toEqual({
        kube_proxy_nodeport_addresses_cidr: "10.10.30.0/24",
      });
    });
  });
});

describe("add-ons", () => {
  const range = "addons.metallb.addressPools[0].addresses[0]";

  test("rejects a MetalLB range that starts after it ends", () => {
    expectProblem(
      homelabProblems(
        (d) => (d.addons.metallb.addressPools[0].addresses = ["10.10.30.229-10.10.30.200"]),
      ),
      range,
      'range "10.10.30.229-10.10.30.200" starts after it ends',
      "write the lower address first",
    );
  });

  test("rejects a MetalLB range outside the node network", () => {
    expectProblem(
      homelabProblems(
        (d) => (d.addons.metallb.addressPools[0].addresses = ["10.10.31.200-10.10.31.229"]),
      ),
      range,
      "MetalLB range 10.10.31.200-10.10.31.229 is outside the node network 10.10.30.0/24",
    );
  });

  test("rejects a MetalLB CIDR that includes the broadcast address", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.metallb.addressPools[0].addresses = ["10.10.30.224/27"])),
      range,
      "includes the broadcast address",
    );
  });

  test("rejects overlapping MetalLB ranges", () => {
    const lines = homelabProblems((d) =>
      d.addons.metallb.addressPools.push({
        name: "extra",
        addresses: ["10.10.30.225-10.10.30.240"],
      }),
    );
    expectProblem(
      lines,
      "addons.metallb.addressPools[1].addresses[0]",
      "MetalLB pool extra's range 10.10.30.225-10.10.30.240 overlaps MetalLB pool default's range",
    );
  });

  test("rejects an ingress IP in no MetalLB pool", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.ingress.loadBalancerIp = "10.10.30.240")),
      "addons.ingress.loadBalancerIp",
      "10.10.30.240 is in no MetalLB address pool",
      "pick an address from addons.metallb.addressPools",
    );
  });

  test("rejects an ingress controller without MetalLB", () => {
    expectProblem(
      homelabProblems((d) => {
        delete d.addons.metallb;
        delete d.addons.ingress.loadBalancerIp;
      }),
      "addons.ingress",
      "needs a MetalLB address pool",
      "add addons.metallb.addressPools",
    );
  });

  test("rejects two default storage classes", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.storage.democraticCsi[1].default = true)),
      "addons.storage.democraticCsi[1].default",
      "truenas-iscsi and truenas-nfs are both default StorageClasses",
      "mark at most one default: true",
    );
  });

  test("rejects two storage backends of the same name", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.storage.democraticCsi[1].name = "truenas-iscsi")),
      "addons.storage.democraticCsi[1].name",
      '"truenas-iscsi" is used twice',
    );
  });

  test("rejects an iSCSI backend without targetPortal", () => {
    expectProblem(
      homelabProblems((d) => delete d.addons.storage.democraticCsi[0].targetPortal),
      "addons.storage.democraticCsi[0].targetPortal",
      "the freenas-iscsi driver needs the iSCSI portal",
      "add targetPortal: HOST:3260",
    );
  });

  test("rejects an NFS backend without shareHost", () => {
    expectProblem(
      homelabProblems((d) => {
        delete d.addons.storage.democraticCsi[1].shareHost;
        d.addons.storage.democraticCsi[1].driver = "freenas-api-nfs";
      }),
      "addons.storage.democraticCsi[1].shareHost",
      "the freenas-api-nfs driver needs the NFS server",
      "add shareHost",
    );
  });

  test.each(["git.home.lan/homelab/gitops", "not a url", "ftp://git.home.lan/gitops.git"])(
    "rejects the ArgoCD repoUrl %s",
    (url) => {
      expectProblem(
        homelabProblems((d) => (d.addons.argocd.bootstrap.repoUrl = url)),
        "addons.argocd.bootstrap.repoUrl",
        `${JSON.stringify(url)} is not a git URL`,
        "https://HOST/OWNER/REPO.git",
      );
    },
  );

  test.each([
    "https://github.com/example/gitops.git",
    "git@github.com:example/gitops.git",
    "ssh://git@git.home.lan/homelab/gitops.git",
  ])("accepts the ArgoCD repoUrl %s", (url) => {
    const d = homelab();
    d.addons.argocd.bootstrap.repoUrl = url;
    expect(() => accept(d)).not.toThrow();
  });

  test("rejects the GPU Operator without a GPU pool", () => {
    expectProblem(
      cloudProblems((d) => delete d.nodePools[2].gpu),
      "addons.gpuOperator.enabled",
      "needs a node pool with a GPU",
      "add gpu.mapping",
    );
  });

  test("rejects the GPU Operator when the GPU pool is empty", () => {
    expectProblem(
      cloudProblems((d) => (d.nodePools[2].count = 0)),
      "addons.gpuOperator.enabled",
      "needs a node pool with a GPU",
    );
  });
});

describe("coexistence", () => {
  const k3s = "coexistence.existingClusters[0]";

  test("rejects node addresses that collide with the existing cluster's nodes", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[0].firstIp = "10.10.30.15")),
      "nodePools[0].firstIp",
      "pool cp's addresses 10.10.30.15-10.10.30.17 collides with k3s's node addresses 10.10.30.11-10.10.30.16",
      `(${k3s}.nodeAddresses[0])`,
      "pick addresses k3s does not use",
    );
  });

  test("rejects a VIP that is the existing cluster's API server", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.apiServerVip = "10.10.30.10")),
      "kubernetes.apiServerVip",
      "collides with k3s's API server 10.10.30.10",
      `(${k3s}.apiServerAddress)`,
    );
  });

  test("rejects a MetalLB range that collides with the existing load balancer range", () => {
    const lines = homelabProblems((d) => {
      d.addons.metallb.addressPools[0].addresses = ["10.10.30.170-10.10.30.199"];
      d.addons.ingress.loadBalancerIp = "10.10.30.190";
    });
    expectProblem(
      lines,
      "addons.metallb.addressPools[0].addresses[0]",
      "collides with k3s's load balancer range 10.10.30.150-10.10.30.179",
      `(${k3s}.loadBalancerAddresses[0])`,
    );
  });

  test("rejects an ingress IP that collides with the existing cluster's nodes", () => {
    const lines = homelabProblems((d) => {
      d.addons.metallb.addressPools[0].addresses = ["10.10.30.12-10.10.30.14"];
      d.addons.ingress.loadBalancerIp = "10.10.30.13";
    });
    expectProblem(
      lines,
      "addons.ingress.loadBalancerIp",
      "the ingress IP 10.10.30.13 collides with k3s's node addresses",
    );
  });

  test("rejects VM IDs that collide with the existing cluster's VM IDs", () => {
    expectProblem(
      homelabProblems((d) => (d.coexistence.existingClusters[0].vmIds = ["4000-4101"])),
      "nodePools[0].count",
      "VM IDs 4100-4102 collide with k3s's VM IDs 4000-4101",
      `(${k3s}.vmIds[0])`,
      "move proxmox.vmIdStart",
    );
  });

  test("rejects VM IDs of a later pool that collide", () => {
    expectProblem(
      homelabProblems((d) => (d.coexistence.existingClusters[0].vmIds = [4201])),
      "nodePools[1].count",
      "VM IDs 4200-4202 collide with k3s's VM IDs 4201",
    );
  });

  test("rejects a reversed range of the existing cluster", () => {
    expectProblem(
      homelabProblems((d) => (d.coexistence.existingClusters[0].vmIds = ["106-101"])),
      `${k3s}.vmIds[0]`,
      '"106-101" starts after it ends',
    );
    expectProblem(
      homelabProblems(
        (d) => (d.coexistence.existingClusters[0].nodeAddresses = ["10.10.30.16-10.10.30.11"]),
      ),
      `${k3s}.nodeAddresses[0]`,
      "starts after it ends",
    );
  });

  test("checks every existing cluster", () => {
    const lines = homelabProblems((d) =>
      d.coexistence.existingClusters.push({ name: "old", nodeAddresses: ["10.10.30.31"] }),
    );
    expectProblem(
      lines,
      "nodePools[1].firstIp",
      "collides with old's node addresses 10.10.30.31",
      "(coexistence.existingClusters[1].nodeAddresses[0])",
    );
  });

  test("shares the gateway with existing clusters on purpose", () => {
    const d = homelab();
    d.coexistence.existingClusters[0].nodeAddresses.push("10.10.30.1");
    expect(() => accept(d)).not.toThrow();
  });

  test("warns, without failing, when the template is one of the existing cluster's VM IDs", () => {
    const d = homelab();
    d.coexistence.existingClusters[0].vmIds = ["101-106", "9000"];
    expect(accept(d).warnings).toEqual([
      expect.objectContaining({
        path: "proxmox.template.vmId",
        message: expect.stringContaining("template 9000 is one of k3s's VM IDs"),
      }),
    ]);
  });
});

describe("good variants", () => {
  test("a single node: one control plane, no workers", () => {
    const d = homelab();
    d.nodePools = [d.nodePools[0]];
    d.nodePools[0].count = 1;
    const { config, warnings } = accept(d);
    expect(config.nodePools).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  test("DHCP everywhere, without a VIP", () => {
    const d = homelab();
    for (const pool of d.nodePools) delete pool.firstIp;
    delete d.kubernetes.apiServerVip;
    const { config } = accept(d);
    expect(config.nodePools.every((p) => p.firstIp === undefined)).toBe(true);
  });

  test("five control planes", () => {
    const d = homelab();
    d.nodePools[0].count = 5;
    d.nodePools[1].firstIp = "10.10.30.41";
    expect(accept(d).config.nodePools[0].count).toBe(5);
  });

  test("five control planes over two pools", () => {
    const d = homelab();
    d.nodePools.push({
      name: "cp-b",
      role: "control-plane",
      count: 2,
      cores: 4,
      firstIp: "10.10.30.51",
    });
    expect(() => accept(d)).not.toThrow();
  });

  test("no add-ons at all", () => {
    const d = homelab();
    delete d.addons;
    expect(accept(d).config.addons.metallb).toBeUndefined();
  });

  test("a minimal definition relying on defaults", () => {
    const { config, warnings } = accept(minimal());
    expect(warnings).toEqual([]);
    expect(config.kubernetes.kubesprayVersion).toBe("v2.31.0");
    expect(config.nodePools[0]).toMatchObject({ cores: 2, memoryMiB: 4096, diskGiB: 40 });
  });

  test("ingress-nginx on the homelab, with its warning", () => {
    const d = homelab();
    d.addons.ingress.controller = "ingress-nginx";
    expect(accept(d).warnings.map((w) => w.path)).toEqual(["addons.ingress.controller"]);
  });
});

describe("mirrors and local-path storage", () => {
  test("accepts the air-gapped definition", () => {
    expect(accept(airGapped()).config.kubernetes.mirrors?.files).toBe(
      "https://files.home.lan/kubespray/",
    );
  });

  test("rejects credentials in a mirror's URL, naming the field", () => {
    expectProblem(
      homelabProblems((d) => {
        d.kubernetes.mirrors = { registries: { "docker.io": ["https://me:s3cret@mirror.lan"] } };
      }),
      "kubernetes.mirrors.registries.docker.io[0]",
      "no credentials in the file",
    );
    expectProblem(
      homelabProblems((d) => {
        d.kubernetes.mirrors = { files: "https://token@files.lan/" };
      }),
      "kubernetes.mirrors.files",
      "no credentials in the file",
    );
  });

  test("rejects a mirror that is not http(s), and a registry that is not a host", () => {
    expectProblem(
      homelabProblems((d) => {
        d.kubernetes.mirrors = { files: "ftp://files.lan/" };
      }),
      "kubernetes.mirrors.files",
      "a mirror is reached over http or https",
    );
    expectProblem(
      homelabProblems((d) => {
        d.kubernetes.mirrors = { registries: { "https://docker.io": ["https://m.lan"] } };
      }),
      "kubernetes.mirrors.registries",
      '"https://docker.io" is not a registry host',
    );
  });

  test("rejects local-path as a second default StorageClass", () => {
    expectProblem(
      homelabProblems((d) => {
        d.addons.storage.localPath = { default: true };
      }),
      "addons.storage.localPath.default",
      "truenas-iscsi and local-path are both default StorageClasses",
    );
  });
});

describe("templates made from a cloud image", () => {
  const imageProblems = (mutate: (d: Definition) => void, image: Definition = {}) =>
    homelabProblems((d) => {
      withImage(d, image);
      mutate(d);
    });

  test("accepts the homelab with an image instead of a prepared template", () => {
    const { config } = accept(withImage(homelab()));
    expect(config.proxmox.template.image).toMatchObject({ datastore: "local", guestAgent: false });
  });

  test("rejects a template node or storage beside the image", () => {
    const lines = imageProblems((d) => {
      d.proxmox.template.node = "pve02";
      d.proxmox.template.storage = "local";
    });
    expectProblem(
      lines,
      "proxmox.template.node",
      '"pve02" is not used with proxmox.template.image',
    );
    expectProblem(lines, "proxmox.template.storage", '"local"', "remove it");
  });

  test("rejects templates' VM IDs that run into the cluster's", () => {
    // Three hosts: 4098, 4099 and 4100; the cluster starts at 4100.
    expectProblem(
      imageProblems((d) => (d.proxmox.template.vmId = 4098)),
      "proxmox.template.vmId",
      "the templates' VM IDs 4098-4100 (one per host) lie inside this cluster's VM IDs 4100-4299",
    );
    expect(() => accept(withImage(homelab(), {}))).not.toThrow();
    const below = withImage(homelab());
    below.proxmox.template.vmId = 4097;
    expect(() => accept(below)).not.toThrow();
  });

  test("rejects templates' VM IDs that collide with an existing cluster's", () => {
    expectProblem(
      imageProblems((d) => (d.proxmox.template.vmId = 104)),
      "proxmox.template.vmId",
      "the templates' VM IDs 104-106 (one per host) collide with k3s's VM IDs",
      "move template.vmId",
    );
  });

  test("rejects a checksum whose length does not fit its algorithm", () => {
    expectProblem(
      imageProblems(() => {}, { checksumAlgorithm: "sha256" }),
      "proxmox.template.image.checksum",
      "128 hex digits, but a sha256 checksum has 64",
    );
    expectProblem(
      imageProblems(() => {}, { checksum: "not-hex" }),
      "proxmox.template.image.checksum",
      'not a hexadecimal checksum ("not-hex")',
    );
  });

  test("rejects a URL whose file name Proxmox cannot import from, unless fileName is set", () => {
    const ubuntu = "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";
    expectProblem(
      imageProblems(() => {}, { url: ubuntu }),
      "proxmox.template.image.url",
      '"noble-server-cloudimg-amd64.img"',
      "set proxmox.template.image.fileName",
    );
    expect(() =>
      accept(withImage(homelab(), { url: ubuntu, fileName: "noble-server-cloudimg-amd64.qcow2" })),
    ).not.toThrow();
    expectProblem(
      imageProblems(() => {}, { fileName: "noble.img" }),
      "proxmox.template.image.fileName",
      '"noble.img" is not a name Proxmox keeps an importable image under',
    );
    expectProblem(
      imageProblems(() => {}, { url: "ftp://mirror.lan/debian.qcow2" }),
      "proxmox.template.image.url",
      "Proxmox downloads images over http or https",
    );
  });

  test("rejects a host whose template name would be longer than 63 characters", () => {
    const host = "hypervisor-in-rack-number-seventeen"; // kspray-template-<host>: 51 characters
    expectProblem(
      imageProblems((d) => {
        d.name = "kspray-production-west";
        d.proxmox.hosts = ["pve01", host];
      }),
      "proxmox.hosts[1]",
      `"kspray-production-west-template-${host}" is 67 characters, longer than 63`,
    );
    const short = withImage(homelab());
    short.proxmox.hosts = ["pve01", host];
    expect(() => accept(short)).not.toThrow();
  });

  test("rejects a DHCP pool when the image does not say it has the guest agent", () => {
    const lines = cloudProblems((d) => withImage(d));
    expectProblem(
      lines,
      "nodePools[1].firstIp",
      "pool cpu-worker takes DHCP addresses, which are read from the QEMU guest agent",
      "set proxmox.template.image.guestAgent: true",
    );
    expect(() => accept(withImage(cloud(), { guestAgent: true }))).not.toThrow();
    // Static pools do not need it: the node preparation playbook installs the agent.
    expect(() => accept(withImage(homelab(), { guestAgent: false }))).not.toThrow();
  });
});
