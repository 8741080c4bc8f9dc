/**
 * Templates made from a cloud image, end to end: `proxmox.template.image` on three hosts
 * whose storages are all local. The real `cdktf deploy vms` against the Proxmox VE double,
 * which downloads the image from a loopback HTTP server of this test (a small file with a
 * qcow2 header): a wrong checksum fails with Proxmox's message and the right one converges;
 * one template per host, every node cloned on its own host; a re-plan with no change; a
 * scale-up; a new image that makes new templates without touching a VM; a destroy that
 * leaves nothing it made. And an image added to a cluster cloned from an existing
 * template: `npm run diff` shows only the templates, `npm run deploy` keeps every node's VM
 * (the clone source is only read when a VM is made), and a node added later is cloned
 * from its host's new template.
 */
import { IMAGE_PRIVILEGES } from "../../preflight/privileges";
import type { VmView } from "../../proxmox-double";
import type { SeedInput } from "../../proxmox-double/seed";
import type { Definition } from "../fixtures/definitions";
import { homelab, withImage } from "../fixtures/definitions";
import { eventually } from "../support/test-cluster";

import type { E2eEnvironment } from "./support/harness";
import { describeE2e, expectSuccess, oneLine, startEnvironment } from "./support/harness";
import { imageServer, qcow2, sha256 } from "./support/images";

const HOSTS = ["pve01", "pve02", "pve03"];
const TEMPLATE_VMID = 9500;

/** Three hosts, nothing shared: `local` (with the import content type) and `local-lvm`. */
const SEED: SeedInput = {
  version: "9.0.3",
  clusterName: "local-only",
  nodes: HOSTS.map((name, i) => ({
    name,
    ip: `10.10.10.${11 + i}`,
    bridges: ["vmbr0"],
    vlanAwareBridges: ["vmbr0"],
  })),
  storages: [
    { id: "local", type: "dir", content: ["iso", "vztmpl", "backup", "import"], sizeGiB: 100 },
    { id: "local-lvm", type: "lvmthin", content: ["images", "rootdir"], sizeGiB: 1024 },
  ],
};

describeE2e("vms stack end to end: templates from a cloud image on local storage", () => {
  const first = qcow2("debian-13 build 1");
  const second = qcow2("debian-13 build 2");
  let images: Awaited<ReturnType<typeof imageServer>>;
  let env: E2eEnvironment;
  let def: Definition;

  const templates = (): VmView[] => env.double.vms().filter((v) => v.config.template === "1");
  /** The downloaded files, by host, as `[host, storage, name]`. */
  const importFiles = () =>
    [...env.double.cluster.volumes.values()]
      .filter((v) => v.content === "import")
      .map((v) => [v.scope, v.storage, v.name])
      .sort((a, b) => a[0].localeCompare(b[0]));
  /** How often the image server sent each file since `since` (a copy of `gets`). */
  const getsSince = (since: Map<string, number>) =>
    Object.fromEntries(
      [...images.gets].map(([path, n]) => [path, n - (since.get(path) ?? 0)]).filter(([, n]) => n),
    );
  const write = (image: Definition): void => {
    def.proxmox.template.image = { ...def.proxmox.template.image, ...image };
    env.writeDefinition(def);
  };

  beforeAll(async () => {
    images = await imageServer({ "/build1/debian.qcow2": first, "/build2/debian.qcow2": second });
    def = withImage(homelab(), {
      url: `${images.base}/build1/debian.qcow2`,
      checksum: "0".repeat(64),
      checksumAlgorithm: "sha256",
    });
    def.proxmox.template.vmId = TEMPLATE_VMID;
    // One node per host: cp-1 on pve01, worker-1 on pve02, worker-2 on pve03.
    def.nodePools[0].count = 1;
    def.nodePools[1].count = 2;
    env = await startEnvironment({ definition: def, seed: SEED });
    def = env.definition;
  });

  afterAll(async () => {
    await env?.stop();
    await new Promise((r) => images?.server.close(r));
  });

  it("fails on a wrong checksum with Proxmox's message, keeping no file", async () => {
    const result = await env.cdktf(["deploy", "vms"]);
    expect(result.status).not.toBe(0);
    expect(oneLine(result.output)).toContain(
      `checksum mismatch: got '${sha256(first)}' != expect '${"0".repeat(64)}'`,
    );
    expect(importFiles()).toEqual([]);
    expect(env.clusterVms()).toEqual([]);
  });

  it("with the right checksum, downloads to each host, makes a template there and clones each node on its own host", async () => {
    const gets = new Map(images.gets);
    write({ checksum: sha256(first) });
    expectSuccess(await env.cdktf(["deploy", "vms"]), "cdktf deploy vms");

    expect(importFiles()).toEqual(
      HOSTS.map((h) => [h, "local", `import/debian-${sha256(first).slice(0, 12)}.qcow2`]),
    );
    expect(getsSince(gets)).toEqual({ "/build1/debian.qcow2": 3 });
    const made = templates();
    expect(made.map((t) => [t.vmid, t.node])).toEqual(HOSTS.map((h, i) => [TEMPLATE_VMID + i, h]));
    for (const t of made) {
      expect(t.config.scsi0).toMatch(new RegExp(`^local-lvm:base-${t.vmid}-disk-\\d+,`));
      expect(t.config.ide2).toMatch(/^local-lvm:.*cloudinit/);
      expect(t.config.serial0).toBe("socket");
      expect(t.config.vga).toMatch(/(^|,)type=serial0(,|$)|^serial0(,|$)/);
      expect(t.config.agent).toMatch(/^(1|enabled=1)/);
    }

    const vms = env.clusterVms();
    expect(vms.map((v) => v.node).sort()).toEqual(HOSTS);
    const templateOn = new Map(made.map((t) => [t.node, t.vmid]));
    const clones = env.double
      .requests()
      .filter((r) => r.method === "POST" && r.template === "/nodes/{node}/qemu/{vmid}/clone");
    expect(clones).toHaveLength(3);
    for (const vm of vms) {
      const clone = clones.find((r) => Number(r.params?.newid) === vm.vmid);
      // Cloned from the template on its own host, onto local-lvm there: never across hosts.
      expect(clone?.path).toBe(`/nodes/${vm.node}/qemu/${templateOn.get(vm.node)}/clone`);
      expect(clone?.params).toMatchObject({ storage: "local-lvm", full: "1" });
      expect(clone?.params?.target ?? vm.node).toBe(vm.node);
      expect(vm.config.scsi0).toMatch(new RegExp(`^local-lvm:vm-${vm.vmid}-disk-\\d+,`));
    }
    expect(env.double.requests().filter((r) => r.path.endsWith("/migrate"))).toEqual([]);
  });

  it("re-plans with no change", async () => {
    const plan = await env.plan("vms");
    expect(plan.exitCode).toBe(0);
  });

  it("scales: a fourth node is cloned from its host's template, which stays as it is", async () => {
    const before = templates();
    const gets = new Map(images.gets);
    def.nodePools[1].count = 3; // worker-3 lands on pve01
    env.writeDefinition(def);
    expectSuccess(await env.cdktf(["deploy", "vms"]), "cdktf deploy vms (scale)");
    const added = env.clusterVms().find((v) => v.config.name === "kspray-worker-3");
    expect(added?.node).toBe("pve01");
    const clone = env.double
      .requests()
      .filter((r) => r.method === "POST" && r.template === "/nodes/{node}/qemu/{vmid}/clone")
      .find((r) => Number(r.params?.newid) === added?.vmid);
    expect(clone?.path).toBe(`/nodes/pve01/qemu/${TEMPLATE_VMID}/clone`);
    expect(templates()).toEqual(before);
    expect(getsSince(gets)).toEqual({});
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);
  });

  it("a new image makes new templates and leaves every VM as it is", async () => {
    const vmsBefore = env.clusterVms();
    const from = env.double.requests().length;
    const gets = new Map(images.gets);
    write({ url: `${images.base}/build2/debian.qcow2`, checksum: sha256(second) });
    expectSuccess(await env.cdktf(["deploy", "vms"]), "cdktf deploy vms (new image)");

    expect(getsSince(gets)).toEqual({ "/build2/debian.qcow2": 3 });
    // The provider does not wait for the old files' deletion; it ends shortly after.
    const newFiles = HOSTS.map((h) => [
      h,
      "local",
      `import/debian-${sha256(second).slice(0, 12)}.qcow2`,
    ]);
    await eventually(
      "only the new image's files left",
      async () => {
        const files = importFiles();
        return { done: JSON.stringify(files) === JSON.stringify(newFiles), value: files };
      },
      30_000,
      100,
    );
    const remade = templates();
    expect(remade.map((t) => [t.vmid, t.node])).toEqual(
      HOSTS.map((h, i) => [TEMPLATE_VMID + i, h]),
    );
    const downloads = env.double
      .requests()
      .slice(from)
      .filter((r) => r.template === "/nodes/{node}/storage/{storage}/download-url");
    expect(downloads.map((r) => r.params?.url)).toEqual(
      HOSTS.map(() => `${images.base}/build2/debian.qcow2`),
    );
    // Nothing but reads reached a node VM.
    const ids = new Set(vmsBefore.map((v) => String(v.vmid)));
    const touched = env.double
      .requests()
      .slice(from)
      .filter((r) => r.method !== "GET" && ids.has(/\/qemu\/(\d+)/.exec(r.path)?.[1] ?? ""));
    expect(touched.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(env.clusterVms()).toEqual(vmsBefore);
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);
  });

  it("destroys every VM, template and downloaded file it made", async () => {
    expectSuccess(await env.cdktf(["destroy", "vms"]), "cdktf destroy vms");
    expect(env.double.vms()).toEqual([]);
    // The provider does not wait for the file deletion's task; it ends shortly after.
    await eventually(
      "no volume left",
      async () => {
        const volumes = env.double.state().volumes as unknown[];
        return { done: volumes.length === 0, value: volumes };
      },
      30_000,
      100,
    );
    expect(env.state("vms")?.resources ?? []).toEqual([]);
  });

  it("sent only requests real Proxmox accepts, and needed the image privileges of the role", () => {
    expect(env.trafficViolations()).toEqual([]);
    const needed = env.privilegesNeeded();
    expect(IMAGE_PRIVILEGES.filter((p) => !needed.has(p))).toEqual([]);
  });
});

describeE2e("vms stack end to end: an image added to a running cluster", () => {
  const image = qcow2("debian-13 build 3");
  let images: Awaited<ReturnType<typeof imageServer>>;
  let env: E2eEnvironment;

  beforeAll(async () => {
    images = await imageServer({ "/build3/debian.qcow2": image });
    // Cloned from the existing template 9000 on shared storage, as docs/proxmox.md's
    // "a template that exists already".
    env = await startEnvironment({ definition: homelab(), seed: "homelab" });
    expectSuccess(await env.cdktf(["deploy", "vms"]), "cdktf deploy vms");
  });

  afterAll(async () => {
    await env?.stop();
    await new Promise((r) => images?.server.close(r));
  });

  it("makes the templates and leaves every node's VM as it is; a node added later is cloned from its host's new one", async () => {
    const made = env.vmIdentities();
    const ids = new Set(env.clusterVms().map((v) => String(v.vmid)));
    const from = env.double.requests().length;
    const def = env.definition;
    def.proxmox.template = {
      vmId: TEMPLATE_VMID,
      image: {
        url: `${images.base}/build3/debian.qcow2`,
        checksum: sha256(image),
        checksumAlgorithm: "sha256",
      },
    };
    env.writeDefinition(def);

    // The review: three downloads and three templates, nothing for a node.
    const review = await env.npmRun("diff", ["vms"]);
    expect(review.status).toBe(2);
    const lines = review.stdout.split("\n").filter((l) => l.startsWith("  "));
    expect(lines.filter((l) => /\(kspray-(cp|worker)-\d+\)|^ {2}(-|~)/.test(l))).toEqual([]);
    expect(lines.filter((l) => l.startsWith("  + proxmox_virtual_environment_vm."))).toEqual(
      HOSTS.map((h) => expect.stringContaining(`(kspray-template-${h})`)),
    );

    expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms");
    expect(templates().map((t) => [t.vmid, t.node])).toEqual(
      HOSTS.map((h, i) => [TEMPLATE_VMID + i, h]),
    );
    // Not one request changed a node's VM: the same VMs, their disks, MACs and vmgenids.
    const touched = env.double
      .requests()
      .slice(from)
      .filter((r) => r.method !== "GET" && ids.has(/\/qemu\/(\d+)/.exec(r.path)?.[1] ?? ""));
    expect(touched.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(env.deletedVms(from)).toEqual([]);
    expect(env.vmIdentities()).toEqual(made);
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);

    // A new template applies to new nodes: worker-4 lands on pve02, cloned from 9501.
    def.nodePools[1].count = 4;
    env.writeDefinition(def);
    expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms (a worker more)");
    const added = env.clusterVms().find((v) => v.config.name === "kspray-worker-4");
    expect(added?.node).toBe("pve02");
    const clone = env.double
      .requests()
      .find(
        (r) =>
          r.template === "/nodes/{node}/qemu/{vmid}/clone" &&
          Number(r.params?.newid) === added?.vmid,
      );
    expect(clone?.path).toBe(`/nodes/pve02/qemu/${TEMPLATE_VMID + 1}/clone`);
    const kept = env.vmIdentities();
    for (const name of Object.keys(made)) expect(kept[name]).toEqual(made[name]);
  });

  /** The templates made from the image (the seed's own 9000 left out). */
  function templates(): VmView[] {
    return env.double.vms().filter((v) => v.config.template === "1" && v.vmid >= TEMPLATE_VMID);
  }
});
