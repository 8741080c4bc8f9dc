/**
 * Preflight against the Proxmox VE double: a clean cluster passes, and each fault a deploy
 * would meet is found before anything changes, named by the field or variable at fault.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { join } from "node:path";

import { parse } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { secretVariables } from "../../config/secrets";
import { formatIssue } from "../../errors/user-error";
import { preflight } from "../../preflight/preflight";
import { REQUIRED_PRIVILEGES } from "../../preflight/privileges";
import { ProxmoxHttpsClient } from "../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../proxmox-double";
import { ALL_PRIVILEGES } from "../../proxmox-double/acl";
import { documentedRole } from "../e2e/support/role";
import type { Definition } from "../fixtures/definitions";
import { cloud, homelab, withImage } from "../fixtures/definitions";
import { ANSIBLE_VENV, describeWithAnsible, STANDIN } from "../support/ansible";
import { REPO_ROOT } from "../support/toolchain";

// It talks to the double and runs real Ansible: a budget for a loaded two-core machine.
jest.setTimeout(120_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Seed = any;

const seedOf = (name: "homelab" | "cloud"): Seed =>
  parse(readFileSync(join(REPO_ROOT, "proxmox-double", `seed.${name}.yaml`), "utf8"));

interface Run {
  readonly definition?: Definition;
  readonly seed?: Seed;
  readonly acl?: Record<string, readonly string[]>;
  /** Environment on top of the double's token and every add-on secret. */
  readonly env?: Record<string, string | undefined>;
  readonly endpoint?: string;
  /** The cluster stack is deployed too. @default true */
  readonly cluster?: boolean;
}

/**
 * Preflight of a definition against a double started for it; the lines it prints. The
 * definition's Kubespray is the stand-in checkout with the test venv's Ansible, unless the
 * run gives its own `kubespray` section.
 */
async function check(run: Run = {}): Promise<string[]> {
  const given = run.definition ?? homelab();
  const definition: Definition = {
    ...given,
    kubespray: given.kubespray?.dir?.startsWith("/") ? given.kubespray : STANDIN_KUBESPRAY,
  };
  const double = await ProxmoxDouble.start({
    seed: run.seed ?? seedOf(definition.name === "kspray" ? "homelab" : "cloud"),
    ...(run.acl ? { acl: run.acl } : {}),
  });
  try {
    const endpoint = run.endpoint ?? double.endpoint;
    const { config } = parseClusterConfig({
      ...definition,
      proxmox: { ...definition.proxmox, endpoint, insecure: true },
    });
    const secrets = Object.fromEntries(secretVariables(config).map((s) => [s.env, "set"]));
    const env = { PROXMOX_VE_API_TOKEN: double.token, ...secrets, ...run.env };
    const api = new ProxmoxHttpsClient({
      endpoint,
      token: env.PROXMOX_VE_API_TOKEN,
      insecure: true,
    });
    return (await preflight(config, api, env, { cluster: run.cluster })).map(formatIssue);
  } finally {
    await double.stop();
  }
}

const STANDIN_KUBESPRAY = { dir: STANDIN, venv: ANSIBLE_VENV, mode: "run" };

describeWithAnsible("preflight, against the Proxmox VE double", () => {
  it.each([
    ["homelab", homelab],
    ["cloud-cluster", cloud],
  ])("finds nothing wrong with %s on its own seed", async (_, definition) => {
    expect(await check({ definition: definition() })).toEqual([]);
  });

  it("names each add-on secret that is not set", async () => {
    const lines = await check({ env: { TF_VAR_grafana_admin_password: "" } });
    expect(lines).toEqual([
      "TF_VAR_grafana_admin_password: not set; export it: Grafana admin password",
    ]);
  });

  it("names a missing token, and stops asking Proxmox", async () => {
    expect(await check({ env: { PROXMOX_VE_API_TOKEN: undefined } })).toEqual([
      expect.stringMatching(/^PROXMOX_VE_API_TOKEN: not set; export the deploy's API token/),
    ]);
  });

  it("reports a token that Proxmox refuses", async () => {
    const lines = await check({ env: { PROXMOX_VE_API_TOKEN: "root@pam!double=wrong" } });
    expect(lines).toEqual([
      expect.stringMatching(/^PROXMOX_VE_API_TOKEN: Proxmox refuses the token \(401/),
    ]);
  });

  it("reports an endpoint nothing answers on", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const lines = await check({ endpoint: `https://127.0.0.1:${port}/` });
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^proxmox.endpoint: cannot reach the Proxmox VE API at https://127.0.0.1:${port}/ \\(.*ECONNREFUSED`,
        ),
      ),
    ]);
  });

  it("names the privileges the token's role lacks", async () => {
    const lines = await check({
      acl: { "/": REQUIRED_PRIVILEGES.filter((p) => p !== "VM.Clone" && p !== "SDN.Use") },
    });
    expect(lines).toEqual([
      expect.stringMatching(
        /^PROXMOX_VE_API_TOKEN: the token lacks VM.Clone, SDN.Use on \/; add them/,
      ),
    ]);
  });

  it("asks for exactly the privileges of the role docs/proxmox.md has users create", () => {
    expect([...REQUIRED_PRIVILEGES].sort()).toEqual([...documentedRole().privileges].sort());
  });

  it("asks only for privileges Proxmox VE has (the double's full list, a root token's)", () => {
    expect(REQUIRED_PRIVILEGES.filter((p) => !ALL_PRIVILEGES.includes(p))).toEqual([]);
  });

  it("accepts exactly the documented role", async () => {
    expect(await check({ acl: { "/": REQUIRED_PRIVILEGES } })).toEqual([]);
  });

  it("names a host the cluster does not have", async () => {
    const d = homelab();
    d.proxmox.hosts = ["pve01", "pve02", "pve04"];
    expect(await check({ definition: d })).toContain(
      "proxmox.hosts: no Proxmox node pve04 (the cluster has pve01, pve02, pve03); use the node names that Datacenter > Nodes shows",
    );
  });

  it("finds a template that is missing, or on another node", async () => {
    const missing = homelab();
    missing.proxmox.template.vmId = 9999;
    expect(await check({ definition: missing })).toContain(
      "proxmox.template.vmId: no VM 9999 in the cluster; create the template as docs/proxmox.md (section 1) shows",
    );
    const elsewhere = homelab();
    elsewhere.proxmox.template.node = "pve02";
    expect(await check({ definition: elsewhere })).toContain(
      "proxmox.template.node: template 9000 is on pve01, not on pve02; set proxmox.template.node: pve01",
    );
  });

  it("finds a template that is no template, lacks cloud-init, or has the agent off", async () => {
    const seed = seedOf("homelab");
    const template = seed.vms.find((v: Seed) => v.vmid === 9000);
    delete template.config.template;
    template.config.agent = "0";
    for (const k of Object.keys(template.config))
      if (String(template.config[k]).includes("cloudinit")) delete template.config[k];
    const lines = await check({ seed });
    expect(lines).toEqual(
      expect.arrayContaining([
        "proxmox.template.vmId: VM 9000 is not a template; convert it: qm template 9000",
        "proxmox.template.vmId: template 9000 has no cloud-init drive; add one: qm set 9000 --ide2 <storage>:cloudinit",
        expect.stringMatching(/^proxmox.template.vmId: template 9000 has the QEMU guest agent off/),
      ]),
    );
  });

  it("refuses the shared layout for a template on local storage", async () => {
    const seed = seedOf("homelab");
    const template = seed.vms.find((v: Seed) => v.vmid === 9000);
    for (const k of Object.keys(template.config))
      template.config[k] = String(template.config[k]).replace(/^templates:/, "local-lvm:");
    expect(await check({ seed })).toContain(
      "proxmox.template.storage: template 9000's disk is on local-lvm, which is not shared; write storage: local (one clone per host from the template's node), or move the disk to shared storage",
    );
  });

  it("finds a datastore that a host lacks, or without room for the disks", async () => {
    const d = homelab();
    d.proxmox.datastore = "templates-ssd";
    expect(await check({ definition: d })).toContain(
      "proxmox.datastore: templates-ssd does not exist on pve01 (it has local, local-lvm, templates); name a storage every host of the cluster has, or add it to that host",
    );
    const seed = seedOf("homelab");
    seed.storages.find((s: Seed) => s.id === "local-lvm").sizeGiB = 250;
    // Each host gets a control-plane node (40 GiB) and a worker (120 GiB); K3s uses 120.
    expect(await check({ seed })).toContain(
      "proxmox.datastore: local-lvm on pve01 has 130 GiB free, the disks need 160 GiB; free space, use another datastore, or make the disks (nodePools[].diskGiB) smaller",
    );
  });

  it("finds a bridge a host lacks, and warns of one that is not VLAN aware", async () => {
    const d = homelab();
    d.network.bridge = "vmbr9";
    expect(await check({ definition: d })).toContain(
      "network.bridge: pve01 has no bridge vmbr9; create it (System > Network) or name one of vmbr0",
    );
    const seed = seedOf("homelab");
    seed.nodes[1].vlanAwareBridges = [];
    expect(await check({ seed })).toEqual([
      'warning: network.vlanId: bridge vmbr0 on pve02 is not VLAN aware: Proxmox will tag VLAN 30 through a bridge of its own (vmbr0v30); tick "VLAN aware" on vmbr0 (System > Network) to tag on vmbr0 itself',
    ]);
  });

  it("finds our VM IDs taken by a VM that is not ours, and lets ours be", async () => {
    const seed = seedOf("homelab");
    seed.vms.push(
      { vmid: 4101, node: "pve02", config: { name: "backup-server" } },
      { vmid: 4100, node: "pve01", config: { name: "kspray-cp-1" } },
    );
    expect(await check({ seed })).toEqual([
      "proxmox.vmIdStart: VM ID 4101 (for kspray-cp-2) is taken by VM backup-server on pve02; move the cluster's VM IDs (proxmox.vmIdStart) to a free range",
    ]);
  });

  it("finds a running VM that already answers on one of our static addresses", async () => {
    const seed = seedOf("homelab");
    seed.vms.push({
      vmid: 300,
      node: "pve03",
      status: "running",
      config: {
        name: "old-dns",
        net0: "virtio,bridge=vmbr0,tag=30",
        agent: "1",
        ipconfig0: "ip=10.10.30.22/24,gw=10.10.30.1",
      },
    });
    expect(await check({ seed })).toEqual([
      "nodePools[].firstIp: 10.10.30.22 (for kspray-cp-2) is in use by VM 300 (old-dns) on pve03; move the pool's firstIp to free addresses",
    ]);
  });

  it("finds a Kubespray checkout that is missing, or an Ansible it cannot run", async () => {
    const d = homelab();
    d.kubespray = { dir: "/nonexistent/kubespray", mode: "run" };
    expect(await check({ definition: d })).toEqual([
      expect.stringMatching(
        /^kubespray.dir: \/nonexistent\/kubespray is not a Kubespray checkout \(no galaxy.yml\); run: npm run kubespray:install/,
      ),
    ]);
    d.kubespray = { dir: STANDIN, venv: "/nonexistent/venv", mode: "run" };
    expect(await check({ definition: d })).toEqual([
      expect.stringMatching(
        /^kubespray.venv: cannot run \/nonexistent\/venv\/bin\/ansible-playbook; install the release's requirements/,
      ),
    ]);
    // print and container modes need neither here, nor does a deploy without the cluster stack.
    expect(await check({ definition: d, cluster: false })).toEqual([]);
    d.kubespray = { dir: "/nonexistent/kubespray", mode: "print" };
    expect(await check({ definition: d })).toEqual([]);
  });

  it("finds a GPU pool whose PCI mapping is missing on its host", async () => {
    const seed = seedOf("cloud");
    seed.pciMappings = [];
    expect(await check({ definition: cloud(), seed })).toEqual([
      expect.stringMatching(
        /^nodePools\[\]\.gpu\.mapping: no PCI resource mapping rtx-a6000 \(for cloud-gpu-worker-1\); add hypervisor's GPU/,
      ),
    ]);
  });
});

describeWithAnsible("preflight of templates made from a cloud image", () => {
  const imaged = (vmId = 9500): Definition => {
    const d = withImage(homelab());
    d.proxmox.template.vmId = vmId;
    return d;
  };
  const homelabSeed = (change: (seed: Seed) => void = () => {}): Seed => {
    const seed = seedOf("homelab");
    change(seed);
    return seed;
  };

  it("finds nothing wrong when the image's storage takes imports and the IDs are free", async () => {
    expect(await check({ definition: imaged() })).toEqual([]);
  });

  it("names a storage without the import content type, with the command that adds it", async () => {
    const seed = homelabSeed((s) => {
      s.storages[0].content = ["iso", "vztmpl", "backup", "snippets"];
    });
    expect(await check({ definition: imaged(), seed })).toEqual(
      ["pve01", "pve02", "pve03"].map(
        (h) =>
          `proxmox.template.image.datastore: local on ${h} does not take the import content type (content: iso,vztmpl,backup,snippets); add it: pvesm set local --content iso,vztmpl,backup,snippets,import (or Datacenter > Storage > local > Content: Import)`,
      ),
    );
  });

  it("names an image storage that a host lacks, or that is shared", async () => {
    const missing = imaged();
    missing.proxmox.template.image.datastore = "images";
    expect(await check({ definition: missing })).toEqual(
      ["pve01", "pve02", "pve03"].map(
        (h) =>
          `proxmox.template.image.datastore: images does not exist on ${h} (it has local, local-lvm, templates); name a directory storage every host has, such as local`,
      ),
    );
    const shared = imaged();
    shared.proxmox.template.image.datastore = "templates";
    const seed = homelabSeed((s) => {
      s.storages[2].content = ["images", "import"];
    });
    expect(await check({ definition: shared, seed })).toEqual(
      ["pve01", "pve02", "pve03"].map(
        () =>
          "proxmox.template.image.datastore: templates is shared, and each host downloads the image for itself; name a storage of each host's own, such as local",
      ),
    );
  });

  it("names a template VM ID another VM holds", async () => {
    // 9000 is the seed's hand-made template, on pve01: the one for pve01 would take it.
    expect(await check({ definition: imaged(9000) })).toEqual([
      "proxmox.template.vmId: VM ID 9000 (for the template on pve01) is taken by VM debian-13-cloud on pve01; move proxmox.template.vmId to free IDs (one per host of proxmox.hosts)",
    ]);
  });

  it("asks for the image privileges only when the definition has an image", async () => {
    const acl = { "/": REQUIRED_PRIVILEGES.filter((p) => p !== "Sys.AccessNetwork") };
    expect(await check({ acl })).toEqual([]);
    expect(await check({ definition: imaged(), acl })).toEqual([
      expect.stringMatching(/^PROXMOX_VE_API_TOKEN: the token lacks Sys.AccessNetwork on \/; /),
    ]);
  });

  it("refuses dropping the image while the cluster's VMs were cloned from its templates", async () => {
    const seed = homelabSeed((s) => {
      s.vms.push(
        { vmid: 9500, node: "pve01", config: { name: "kspray-template-pve01", template: 1 } },
        { vmid: 4100, node: "pve01", config: { name: "kspray-cp-1" } },
      );
    });
    expect(await check({ seed })).toEqual([
      expect.stringMatching(
        /^proxmox.template.image: not set, but the cluster's VMs were cloned from the templates it made \(9500 on pve01\); without it the deploy deletes those templates \(the VMs stay\), and nodes added later have none to clone from; keep proxmox.template.image/,
      ),
    ]);
  });
});
