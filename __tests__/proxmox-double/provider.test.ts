/**
 * The real bpg/proxmox provider against the double: apply three VMs with the settings the
 * project uses (a plain VM with a static address, a GPU VM, a DHCP VM cloned across nodes),
 * re-plan with no changes, destroy; and a template built from a cloud image the provider
 * downloads (`proxmox_virtual_environment_download_file`, a disk with `import_from`,
 * `template = true`). This is what the double exists for.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ProxmoxDouble } from "../../proxmox-double";
import { qcow2Image } from "../../proxmox-double/qcow2";
import { describeWithToolchain, TOOLCHAIN_DIR, toolchainEnv, toolPath } from "../support/toolchain";

const PROVIDER_VERSION = "0.111.1";
const PROVIDER_DIR = join(
  TOOLCHAIN_DIR,
  "providers",
  "registry.opentofu.org",
  "bpg",
  "proxmox",
  PROVIDER_VERSION,
);
const SSH_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIluHaKqnPepxyP/0YQt0PV+sjXChm65kjVLCnxfsaGa operator@workstation";

interface Run {
  readonly code: number;
  readonly output: string;
}

function tofu(cwd: string, env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      toolPath("tofu"),
      [...args, "-no-color"],
      { cwd, env, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** `tofu ... ` must exit with `expected`; the message shows the output otherwise. */
/**
 * The environment tofu runs the provider in: the double's token only (no credential of
 * the caller's), and TMPDIR in the run's folder, where the provider keeps its VM ID
 * sequence file.
 */
function providerEnv(double: ProxmoxDouble, dir: string): NodeJS.ProcessEnv {
  const env = toolchainEnv({
    ...process.env,
    PROXMOX_VE_API_TOKEN: double.token,
    TMPDIR: dir,
    TF_IN_AUTOMATION: "1",
  });
  delete env.PROXMOX_VE_ENDPOINT;
  delete env.PROXMOX_VE_USERNAME;
  delete env.PROXMOX_VE_PASSWORD;
  return env;
}

function expectExit(run: Run, expected: number, what: string): void {
  if (run.code !== expected)
    throw new Error(`${what} exited ${run.code} (expected ${expected}):\n${run.output}`);
}

/**
 * `network_device` is an attribute-mode block (SchemaConfigModeAttr): in JSON syntax every
 * attribute of its objects must be present, as cdktf writes them.
 */
const nic = (bridge: string, vlanId = 0) => ({
  bridge,
  vlan_id: vlanId,
  model: "virtio",
  enabled: true,
  disconnected: false,
  firewall: false,
  mac_address: null,
  mtu: 0,
  queues: 0,
  rate_limit: 0,
  trunks: "",
});

const cloudInit = (
  datastore: string,
  ipv4: Record<string, string>,
  dns?: Record<string, unknown>,
) => ({
  datastore_id: datastore,
  user_account: [{ username: "debian", keys: [SSH_KEY] }],
  ip_config: [{ ipv4: [ipv4] }],
  ...(dns ? { dns: [dns] } : {}),
});

/** A hand-written configuration with the VM settings the project's vms stack uses. */
function configuration(endpoint: string): unknown {
  const common = {
    on_boot: true,
    started: true,
    stop_on_destroy: true,
    operating_system: [{ type: "l26" }],
    agent: [{ enabled: true, timeout: "2m" }],
  };
  return {
    terraform: {
      required_providers: { proxmox: { source: "bpg/proxmox", version: PROVIDER_VERSION } },
    },
    provider: { proxmox: { endpoint, insecure: true } },
    resource: {
      proxmox_virtual_environment_vm: {
        plain: {
          ...common,
          name: "kspray-cp-1",
          node_name: "pve01",
          vm_id: 4100,
          description: "Kubespray control-plane node kspray-cp-1",
          tags: ["kubespray", "homelab", "control-plane"],
          clone: [{ vm_id: 9000, node_name: "pve01", full: true, datastore_id: "local-lvm" }],
          cpu: [{ cores: 4, type: "x86-64-v2-AES" }],
          memory: [{ dedicated: 8192 }],
          disk: [{ interface: "scsi0", datastore_id: "local-lvm", size: 40 }],
          network_device: [nic("vmbr0", 30)],
          initialization: [
            cloudInit(
              "local-lvm",
              { address: "10.10.30.21/24", gateway: "10.10.30.1" },
              { servers: ["10.10.30.1"], domain: "home.lan" },
            ),
          ],
        },
        gpu: {
          ...common,
          name: "cloud-gpu-worker-1",
          node_name: "pve01",
          vm_id: 5002,
          description: "GPU worker",
          tags: ["cloud", "gpu"],
          clone: [{ vm_id: 9100, node_name: "pve01", full: true, datastore_id: "local-zfs" }],
          machine: "q35",
          bios: "ovmf",
          efi_disk: [{ datastore_id: "local-zfs", type: "4m" }],
          hostpci: [{ device: "hostpci0", mapping: "rtx-a6000", pcie: true }],
          cpu: [{ cores: 16, type: "host" }],
          memory: [{ dedicated: 65536 }],
          disk: [{ interface: "scsi0", datastore_id: "local-zfs", size: 200 }],
          network_device: [nic("vmbr1")],
          initialization: [
            cloudInit("local-zfs", { address: "dhcp" }, { servers: ["192.168.100.1"] }),
          ],
        },
        dhcp: {
          ...common,
          name: "cloud-cpu-worker-1",
          node_name: "pve02",
          vm_id: 5001,
          tags: ["cloud"],
          // The template is on pve01's local storage: the provider clones there, then migrates.
          clone: [{ vm_id: 9000, node_name: "pve01", full: true, datastore_id: "local-lvm" }],
          cpu: [{ cores: 8, type: "x86-64-v2-AES" }],
          memory: [{ dedicated: 16384 }],
          disk: [{ interface: "scsi0", datastore_id: "local-lvm", size: 100 }],
          network_device: [nic("vmbr1")],
          initialization: [cloudInit("local-lvm", { address: "dhcp" })],
        },
      },
    },
    output: {
      plain_ipv4: { value: "${proxmox_virtual_environment_vm.plain.ipv4_addresses}" },
      dhcp_ipv4: { value: "${proxmox_virtual_environment_vm.dhcp.ipv4_addresses}" },
      gpu_ipv4: { value: "${proxmox_virtual_environment_vm.gpu.ipv4_addresses}" },
    },
  };
}

const describeTofu = (() => {
  const withTofu = describeWithToolchain(["tofu"]);
  if (withTofu !== describe || existsSync(PROVIDER_DIR)) return withTofu;
  if (process.env.CI) {
    throw new Error(
      `the provider mirror lacks bpg/proxmox ${PROVIDER_VERSION}; run: bash scripts/toolchain.sh`,
    );
  }
  return describe.skip;
})();

describeTofu("bpg/proxmox provider against the double", () => {
  jest.setTimeout(600_000);
  let double: ProxmoxDouble;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    double = await ProxmoxDouble.start({
      cloneDurationMs: 300,
      taskDurationMs: 100,
      agentDelayMs: 1500,
    });
    dir = mkdtempSync(join(tmpdir(), "proxmox-double-tofu-"));
    writeFileSync(
      join(dir, "main.tf.json"),
      JSON.stringify(configuration(double.endpoint), null, 2),
    );
    env = providerEnv(double, dir);
  });

  afterAll(async () => {
    await double?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("applies the three VMs", async () => {
    expectExit(await tofu(dir, env, "init", "-input=false"), 0, "tofu init");
    expectExit(await tofu(dir, env, "apply", "-auto-approve", "-input=false"), 0, "tofu apply");
    const vms = new Map(double.vms().map((v) => [v.vmid, v]));
    const plain = vms.get(4100);
    expect(plain).toMatchObject({ node: "pve01", status: "running" });
    expect(plain?.config).toMatchObject({
      name: "kspray-cp-1",
      cores: "4",
      cpu: "x86-64-v2-AES",
      memory: "8192",
      onboot: "1",
      ostype: "l26",
      tags: "control-plane;homelab;kubespray",
      ipconfig0: expect.stringMatching(/ip=10\.10\.30\.21\/24/),
      ide2: "local-lvm:vm-4100-cloudinit,media=cdrom,size=4M",
      nameserver: "10.10.30.1",
      searchdomain: "home.lan",
      ciuser: "debian",
    });
    expect(plain?.config.scsi0).toMatch(/^local-lvm:vm-4100-disk-0,.*size=40G/);
    expect(plain?.config.net0).toMatch(
      /^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0,firewall=0,tag=30$/,
    );
    expect(vms.get(5002)?.config).toMatchObject({
      machine: "q35",
      bios: "ovmf",
      hostpci0: expect.stringMatching(/^mapping=rtx-a6000,pcie=1/),
      efidisk0: expect.stringMatching(/^local-zfs:vm-5002-disk-\d,efitype=4m/),
      scsi0: expect.stringMatching(/^local-zfs:vm-5002-disk-0,.*size=200G/),
    });
    expect(vms.get(5001)).toMatchObject({ node: "pve02", status: "running" });
    expect(double.requests()).toContainEqual(
      expect.objectContaining({
        method: "POST",
        path: "/nodes/pve01/qemu/5001/migrate",
        status: 200,
      }),
    );

    const outputs = await tofu(dir, env, "output", "-json");
    expectExit(outputs, 0, "tofu output");
    const out = JSON.parse(outputs.output.slice(0, outputs.output.lastIndexOf("}") + 1)) as Record<
      string,
      { value: string[][] }
    >;
    expect(out.plain_ipv4.value.flat()).toContain("10.10.30.21");
    expect(out.dhcp_ipv4.value.flat().some((ip) => ip.startsWith("192.168.100."))).toBe(true);
    expect(double.unknownRequests()).toEqual([]);
  });

  it("re-plans with no changes", async () => {
    const plan = await tofu(dir, env, "plan", "-detailed-exitcode", "-input=false");
    expectExit(plan, 0, "tofu plan after apply (0 = no changes)");
  });

  it("destroys everything it made", async () => {
    expectExit(await tofu(dir, env, "destroy", "-auto-approve", "-input=false"), 0, "tofu destroy");
    expect(double.vms().map((v) => v.vmid)).toEqual([9000, 9100]);
    const left = [...double.cluster.volumes.values()].filter((v) =>
      [4100, 5001, 5002].includes(v.vmid),
    );
    expect(left).toEqual([]);
    expect(double.unknownRequests()).toEqual([]);
  });

  it("reports a failed clone without leaving a VM behind, and recovers on the next apply", async () => {
    const clones = () => double.requests().filter((r) => r.path.endsWith("/clone")).length;
    double.setFaults({ failClones: [clones() + 1] });
    const failed = await tofu(dir, env, "apply", "-auto-approve", "-input=false");
    expect(failed.code).toBe(1);
    expect(failed.output).toContain("clone failed: injected fault");
    const state = await tofu(dir, env, "state", "list");
    const managed = state.output.split("\n").filter((l) => l.startsWith("proxmox_"));
    expect(managed).toHaveLength(2);
    expect(double.vms().filter((v) => v.vmid < 9000)).toHaveLength(2);

    expectExit(
      await tofu(dir, env, "apply", "-auto-approve", "-input=false"),
      0,
      "tofu apply again",
    );
    expectExit(await tofu(dir, env, "plan", "-detailed-exitcode", "-input=false"), 0, "tofu plan");
    expectExit(await tofu(dir, env, "destroy", "-auto-approve", "-input=false"), 0, "tofu destroy");
    expect(double.vms().map((v) => v.vmid)).toEqual([9000, 9100]);
  });
});

describeTofu("bpg/proxmox provider: a template from a cloud image", () => {
  jest.setTimeout(600_000);
  const file = "debian-13-genericcloud-amd64.qcow2";
  const image = qcow2Image(3 * 1024 ** 3);
  const sha256 = createHash("sha256").update(image).digest("hex");
  let double: ProxmoxDouble;
  let images: Server;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const write = (checksum: string): void => {
    const base = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
    const config = {
      terraform: {
        required_providers: { proxmox: { source: "bpg/proxmox", version: PROVIDER_VERSION } },
      },
      provider: { proxmox: { endpoint: double.endpoint, insecure: true } },
      resource: {
        proxmox_virtual_environment_download_file: {
          image: {
            node_name: "pve01",
            datastore_id: "local",
            content_type: "import",
            url: `${base}/${file}`,
            file_name: file,
            checksum,
            checksum_algorithm: "sha256",
          },
        },
        proxmox_virtual_environment_vm: {
          template: {
            name: "debian-13-cloud",
            node_name: "pve01",
            vm_id: 9500,
            template: true,
            started: false,
            operating_system: [{ type: "l26" }],
            agent: [{ enabled: true }],
            disk: [
              {
                interface: "scsi0",
                datastore_id: "local-lvm",
                import_from: "${proxmox_virtual_environment_download_file.image.id}",
                size: 8,
              },
            ],
            network_device: [nic("vmbr0")],
          },
        },
      },
    };
    writeFileSync(join(dir, "main.tf.json"), JSON.stringify(config, null, 2));
  };

  beforeAll(async () => {
    images = createServer((req, res) => {
      if (req.url !== `/${file}`) {
        res.writeHead(404, "Not Found").end();
        return;
      }
      res.writeHead(200, {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(image.length),
      });
      res.end(req.method === "HEAD" ? undefined : image);
    });
    await new Promise<void>((r) => images.listen(0, "127.0.0.1", r));
    double = await ProxmoxDouble.start({ cloneDurationMs: 300, taskDurationMs: 100 });
    dir = mkdtempSync(join(tmpdir(), "proxmox-double-image-"));
    env = providerEnv(double, dir);
  });

  afterAll(async () => {
    await double?.stop();
    await new Promise((r) => images?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports a wrong checksum with Proxmox's message and keeps no file", async () => {
    write("0".repeat(64));
    expectExit(await tofu(dir, env, "init", "-input=false"), 0, "tofu init");
    const failed = await tofu(dir, env, "apply", "-auto-approve", "-input=false");
    expect(failed.code).toBe(1);
    expect(failed.output.replace(/\s+/g, " ")).toContain(
      `checksum mismatch: got '${sha256}' != expect '${"0".repeat(64)}'`,
    );
    expect([...double.cluster.volumes.values()].filter((v) => v.content === "import")).toEqual([]);
  });

  it("downloads the image, imports it into a disk and makes the VM a template", async () => {
    write(sha256);
    expectExit(await tofu(dir, env, "apply", "-auto-approve", "-input=false"), 0, "tofu apply");
    const vm = double.vm(9500);
    expect(vm?.config).toMatchObject({ template: "1", name: "debian-13-cloud" });
    expect(vm?.config.scsi0).toMatch(/^local-lvm:base-9500-disk-0,.*size=8G/);
    expect(double.unknownRequests()).toEqual([]);
    const paths = double.requests().map((r) => `${r.method} ${r.template ?? r.path}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        "GET /nodes/{node}/query-url-metadata",
        "POST /nodes/{node}/storage/{storage}/download-url",
        "GET /nodes/{node}/storage/{storage}/content",
        "POST /nodes/{node}/qemu",
        "PUT /nodes/{node}/qemu/{vmid}/resize",
        "POST /nodes/{node}/qemu/{vmid}/template",
      ]),
    );
  });

  it("re-plans with no changes", async () => {
    const plan = await tofu(dir, env, "plan", "-detailed-exitcode", "-input=false");
    expectExit(plan, 0, "tofu plan after apply (0 = no changes)");
  });

  it("destroys the template and deletes the file", async () => {
    expectExit(await tofu(dir, env, "destroy", "-auto-approve", "-input=false"), 0, "tofu destroy");
    expect(double.vm(9500)).toBeUndefined();
    // The provider does not wait for the imgdel task; it ends shortly after.
    const left = () =>
      [...double.cluster.volumes.values()].filter((v) => v.vmid === 9500 || v.content === "import");
    const deadline = Date.now() + 30_000;
    while (left().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(left()).toEqual([]);
    expect(double.unknownRequests()).toEqual([]);
  });
});
