/**
 * Rules one field can check alone (config/schema.ts): types, required fields, unknown
 * keys, names, formats, ranges. Each test mutates one thing in a valid definition and
 * asserts the field path and the key words of the message.
 */
import { ClusterConfigSchema, PROXMOX_MAX_VMID } from "../../config/schema";
import type { Definition } from "../fixtures/definitions";
import {
  accept,
  expectProblem,
  homelab,
  homelabProblems,
  minimal,
  problems,
} from "../fixtures/definitions";

type Case = [string, (d: Definition) => void, string, ...string[]];

describe("types and required fields", () => {
  test.each<Case>([
    ["a missing name", (d) => delete d.name, "name", "required field is missing", "a string"],
    [
      "a missing template",
      (d) => delete d.proxmox.template,
      "proxmox.template",
      "required field is missing",
      "a mapping",
    ],
    [
      "a missing pool count",
      (d) => delete d.nodePools[1].count,
      "nodePools[1].count",
      "required field is missing",
    ],
    [
      "a missing network",
      (d) => delete d.network,
      "network",
      "required field is missing",
      "a mapping",
    ],
    [
      "a string where a number belongs",
      (d) => (d.nodePools[0].count = "three"),
      "nodePools[0].count",
      "expected a number",
      'got a string ("three")',
    ],
    [
      "a fraction where a whole number belongs",
      (d) => (d.nodePools[0].cores = 2.5),
      "nodePools[0].cores",
      "expected a whole number",
      "2.5",
    ],
    [
      "a number where a string belongs",
      (d) => (d.name = 5),
      "name",
      "expected a string",
      "got a number (5)",
    ],
    [
      "a list where a string belongs",
      (d) => (d.network.bridge = ["vmbr0"]),
      "network.bridge",
      "expected a string",
      "got a list",
    ],
    [
      "a string where true or false belongs",
      (d) => (d.proxmox.insecure = "yes"),
      "proxmox.insecure",
      "expected true or false",
      '"yes"',
    ],
    ["an empty section", (d) => (d.network = null), "network", "expected a mapping", "got nothing"],
    [
      "a role that does not exist",
      (d) => (d.nodePools[1].role = "master"),
      "nodePools[1].role",
      '"control-plane", "worker"',
      '"master"',
    ],
    [
      "an unknown network plugin",
      (d) => (d.kubernetes.networkPlugin = "weave"),
      "kubernetes.networkPlugin",
      '"calico"',
      '"weave"',
    ],
    [
      "an unknown ingress controller",
      (d) => (d.addons.ingress.controller = "haproxy"),
      "addons.ingress.controller",
      '"traefik", "ingress-nginx"',
      '"haproxy"',
    ],
    ["an empty node pool list", (d) => (d.nodePools = []), "nodePools", "at least 1 entry"],
    [
      "a CPU type with a space",
      (d) => (d.nodePools[1].cpuType = "x86 64"),
      "nodePools[1].cpuType",
      "not a QEMU CPU type",
      '"x86 64"',
    ],
    [
      "a disk cache mode Proxmox does not have",
      (d) => ((d.nodePools[1] as Record<string, unknown>).diskCache = "writeall"),
      "nodePools[1].diskCache",
      '"none", "writethrough", "writeback", "directsync", "unsafe"',
      '"writeall"',
    ],
  ])("rejects %s", (_what, mutate, path, ...words) => {
    expectProblem(homelabProblems(mutate), path, ...words);
  });
});

describe("unknown keys", () => {
  test("rejects a misspelt key and suggests the right one", () => {
    const lines = homelabProblems((d) => (d.nodePools[0].memoryMb = 8192));
    expect(lines).toEqual(['nodePools[0].memoryMb: unknown key; did you mean "memoryMiB"?']);
  });

  test("rejects a misspelt top-level key", () => {
    expectProblem(
      homelabProblems((d) => (d.addon = {})),
      "addon",
      "unknown key",
      'did you mean "addons"?',
    );
  });

  test("rejects a misspelt key deep in the add-ons", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.storage.democraticCsi[0].targetPortl = "x")),
      "addons.storage.democraticCsi[0].targetPortl",
      'did you mean "targetPortal"?',
    );
  });

  test("lists the known keys when nothing is close", () => {
    expectProblem(
      homelabProblems((d) => (d.network.zzzzzzzz = 1)),
      "network.zzzzzzzz",
      "unknown key; known keys: bridge, vlanId, cidr, gateway",
    );
  });

  test("still reports the cross-field problems beside an unknown key", () => {
    const lines = homelabProblems((d) => {
      d.nodePools[0].colour = "blue";
      d.nodePools[0].count = 2;
    });
    expectProblem(lines, "nodePools[0].colour", "unknown key");
    expectProblem(lines, "nodePools[0].count", "2 control-plane nodes cannot keep etcd quorum");
  });
});

describe("names", () => {
  test.each([
    ["an underscore", "my_cluster"],
    ["a shell substitution", "$(rm -rf)"],
    ["capitals", "Prod"],
    ["a leading digit", "1prod"],
    ["a trailing dash", "prod-"],
    ["a space", "my cluster"],
  ])("rejects a cluster name with %s", (_what, name) => {
    expectProblem(
      homelabProblems((d) => (d.name = name)),
      "name",
      "must be a DNS label",
      JSON.stringify(name),
    );
  });

  test("rejects a cluster name longer than 63 characters", () => {
    const name = "a".repeat(64);
    expectProblem(
      homelabProblems((d) => (d.name = name)),
      "name",
      "longer than 63 characters",
      "shorten it",
    );
  });

  test.each([
    ["my_pool", "my_pool"],
    ["$(rm -rf)", "$(rm -rf)"],
    ["a;b", "a;b"],
  ])("rejects the pool name %s", (_what, name) => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].name = name)),
      "nodePools[1].name",
      "a pool name must be a DNS label",
      JSON.stringify(name),
    );
  });

  test("rejects a Proxmox host name that is not a DNS label", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.hosts[1] = "pve 02")),
      "proxmox.hosts[1]",
      "a Proxmox node name must be a DNS label",
    );
  });

  test("rejects a MetalLB pool name that is not a DNS label", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.metallb.addressPools[0].name = "Default")),
      "addons.metallb.addressPools[0].name",
      "must be a DNS label",
    );
  });
});

describe("proxmox", () => {
  test("rejects an http endpoint", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.endpoint = "http://pve01.home.lan:8006/")),
      "proxmox.endpoint",
      "only reached over HTTPS",
      '"http://pve01.home.lan:8006/"',
      "write https://HOST:8006/",
    );
  });

  test("rejects an endpoint that is not a URL", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.endpoint = "pve01")),
      "proxmox.endpoint",
      "not a URL",
      "https://HOST:8006/",
    );
  });

  test("rejects an empty host list", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.hosts = [])),
      "proxmox.hosts",
      "at least one Proxmox node",
    );
  });

  test.each([
    ["template.vmId", 99, "below Proxmox's VM ID range"],
    ["template.vmId", 1_000_000_000, "above Proxmox's VM ID range"],
    ["vmIdStart", 42, "below Proxmox's VM ID range"],
    ["vmIdStart", 1_000_000_000, "above Proxmox's VM ID range"],
  ] as const)("rejects proxmox.%s %d", (field, value, words) => {
    const lines = homelabProblems((d) => {
      if (field === "vmIdStart") d.proxmox.vmIdStart = value;
      else d.proxmox.template.vmId = value;
    });
    expectProblem(
      lines,
      `proxmox.${field}`,
      String(value),
      words,
      `use 100 to ${PROXMOX_MAX_VMID}`,
    );
  });

  test("rejects a Proxmox tag with a space", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.tags = ["home lab"])),
      "proxmox.tags[0]",
      "not a valid Proxmox tag",
      '"home lab"',
    );
  });

  test("rejects a zero vmIdsPerPool", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.vmIdsPerPool = 0)),
      "proxmox.vmIdsPerPool",
      "below the minimum of 1",
    );
  });
});

describe("network", () => {
  test.each(["10.10.30.0", "10.10.30.0/33", "10.10.300.0/24", "fd00::/64"])(
    "rejects the CIDR %s",
    (cidr) => {
      expectProblem(
        homelabProblems((d) => (d.network.cidr = cidr)),
        "network.cidr",
        "not an IPv4 CIDR",
        JSON.stringify(cidr),
        "a.b.c.d/n",
      );
    },
  );

  test.each(["10.10.30", "10.10.30.256", "gateway.lan", "010.10.30.1"])(
    "rejects the gateway %s",
    (gateway) => {
      expectProblem(
        homelabProblems((d) => (d.network.gateway = gateway)),
        "network.gateway",
        "not an IPv4 address",
        JSON.stringify(gateway),
      );
    },
  );

  test("rejects a DNS server that is a name, not an address", () => {
    expectProblem(
      homelabProblems((d) => (d.network.dnsServers = ["10.10.30.1", "dns.home.lan"])),
      "network.dnsServers[1]",
      "not an IPv4 address",
      '"dns.home.lan"',
    );
  });

  test("rejects a VLAN tag outside 1-4094", () => {
    expectProblem(
      homelabProblems((d) => (d.network.vlanId = 4095)),
      "network.vlanId",
      "4095",
      "above the maximum of 4094",
    );
  });

  test("rejects a firstIp that is not an address", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[0].firstIp = "10.10.30.21/24")),
      "nodePools[0].firstIp",
      "not an IPv4 address",
    );
  });

  test("rejects an API server VIP that is not an address", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.apiServerVip = "kube.home.lan")),
      "kubernetes.apiServerVip",
      "not an IPv4 address",
    );
  });
});

describe("ssh", () => {
  test("rejects a private key pasted as an authorized key", () => {
    expectProblem(
      homelabProblems((d) => (d.ssh.authorizedKeys = ["AAAAC3NzaC1lZDI1NTE5AAAA"])),
      "ssh.authorizedKeys[0]",
      "not an OpenSSH public key",
      "id_ed25519.pub",
    );
  });

  test("rejects an empty key list", () => {
    expectProblem(
      homelabProblems((d) => (d.ssh.authorizedKeys = [])),
      "ssh.authorizedKeys",
      "at least one public key",
    );
  });

  test("rejects a user name a shell would interpret", () => {
    expectProblem(
      homelabProblems((d) => (d.ssh.user = "root;reboot")),
      "ssh.user",
      "not a valid Linux user name",
    );
  });
});

describe("node pools", () => {
  test("rejects a GPU pool without its mapping", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].gpu = {})),
      "nodePools[1].gpu.mapping",
      "required field is missing",
    );
  });

  test("rejects a GPU mapping name with a slash", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].gpu = { mapping: "0000:01:00.0/x" })),
      "nodePools[1].gpu.mapping",
      "not a Proxmox resource mapping name",
    );
  });

  test("rejects memory below what a VM can boot with", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].memoryMiB = 256)),
      "nodePools[1].memoryMiB",
      "256 is below the minimum of 512",
    );
  });

  test("rejects a negative count", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].count = -1)),
      "nodePools[1].count",
      "-1 is below the minimum of 0",
    );
  });

  test("rejects a label value that is not a string", () => {
    expectProblem(
      homelabProblems((d) => (d.nodePools[1].labels = { tier: 3 })),
      "nodePools[1].labels.tier",
      "expected a string",
    );
  });
});

describe("kubernetes", () => {
  test("rejects a nodeCidrPrefix outside 16-28", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.nodeCidrPrefix = 30)),
      "kubernetes.nodeCidrPrefix",
      "30 is above the maximum of 28",
    );
  });

  test("rejects a pod CIDR that is not a CIDR", () => {
    expectProblem(
      homelabProblems((d) => (d.kubernetes.podCidr = "10.233.64.0-10.233.127.255")),
      "kubernetes.podCidr",
      "not an IPv4 CIDR",
    );
  });
});

describe("add-ons", () => {
  test.each(["10.10.30.200-", "10.10.30.200-10.10.30", "ten"])(
    "rejects the MetalLB range %s",
    (range) => {
      expectProblem(
        homelabProblems((d) => (d.addons.metallb.addressPools[0].addresses = [range])),
        "addons.metallb.addressPools[0].addresses[0]",
        "not an address range",
        "write A-B, a single address, or a CIDR",
      );
    },
  );

  test("rejects an ingress IP that is not an address", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.ingress.loadBalancerIp = "10.10.30.200-10.10.30.201")),
      "addons.ingress.loadBalancerIp",
      "not an IPv4 address",
    );
  });

  test("rejects a cluster issuer with two kinds", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.certManager.clusterIssuers[0].selfSigned = {})),
      "addons.certManager.clusterIssuers[0]",
      "exactly one of vault, acme or selfSigned",
    );
  });

  test("rejects a cluster issuer with no kind", () => {
    expectProblem(
      homelabProblems((d) => delete d.addons.certManager.clusterIssuers[0].vault),
      "addons.certManager.clusterIssuers[0]",
      "exactly one of vault, acme or selfSigned",
    );
  });

  test("rejects an unknown democratic-csi driver", () => {
    expectProblem(
      homelabProblems((d) => (d.addons.storage.democraticCsi[0].driver = "zfs-local")),
      "addons.storage.democraticCsi[0].driver",
      '"freenas-iscsi"',
      '"zfs-local"',
    );
  });

  test("rejects an ACME e-mail that is not one", () => {
    const d = homelab();
    d.addons.certManager.clusterIssuers.push({ name: "le", acme: { email: "ops" } });
    expectProblem(
      problems(d),
      "addons.certManager.clusterIssuers[1].acme.email",
      "not a valid email",
    );
  });
});

describe("coexistence", () => {
  test.each(["101..106", "abc", "101-"])("rejects the VM ID range %s", (ids) => {
    expectProblem(
      homelabProblems((d) => (d.coexistence.existingClusters[0].vmIds = [ids])),
      "coexistence.existingClusters[0].vmIds[0]",
      "not a VM ID range",
      "write N-M or a single ID",
    );
  });

  test("accepts a single VM ID written as a number", () => {
    const d = homelab();
    d.coexistence.existingClusters[0].vmIds = [101, "102-106"];
    expect(accept(d).config.coexistence.existingClusters[0].vmIds).toEqual([101, "102-106"]);
  });
});

describe("ClusterConfigSchema", () => {
  test("fills every documented default", () => {
    const parsed = ClusterConfigSchema.parse(minimal());
    expect(parsed.proxmox).toMatchObject({
      insecure: false,
      vmIdStart: 1000,
      vmIdsPerPool: 100,
      tags: [],
    });
    expect(parsed.network.bridge).toBe("vmbr0");
    expect(parsed.ssh).toMatchObject({ user: "debian", privateKeyFile: "~/.ssh/id_ed25519" });
    expect(parsed.nodePools[0]).toMatchObject({
      cores: 2,
      memoryMiB: 4096,
      diskGiB: 40,
      labels: {},
      taints: [],
    });
    expect(parsed.nodePools[0].firstIp).toBeUndefined();
    expect(parsed.kubernetes).toEqual({
      kubesprayVersion: "v2.31.0",
      networkPlugin: "calico",
      containerRuntime: "containerd",
      podCidr: "10.233.64.0/18",
      serviceCidr: "10.233.0.0/18",
      nodeCidrPrefix: 24,
      nodeLocalDns: true,
      metricsServer: true,
      extraVars: {},
    });
    expect(parsed.kubespray).toMatchObject({ dir: ".kubespray/v2.31.0", mode: "run" });
    expect(parsed.addons.metallb).toBeUndefined();
    expect(parsed.addons.ingress).toBeUndefined();
    expect(parsed.coexistence).toEqual({ existingClusters: [] });
  });

  test("fills the defaults inside a partly written section", () => {
    const parsed = ClusterConfigSchema.parse({ ...minimal(), kubernetes: { version: "1.34.7" } });
    expect(parsed.kubernetes).toMatchObject({
      version: "1.34.7",
      kubesprayVersion: "v2.31.0",
      podCidr: "10.233.64.0/18",
    });
  });
});
