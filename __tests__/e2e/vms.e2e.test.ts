/**
 * The vms stack end to end: the real `cdktf deploy vms` / `cdktf destroy vms` (OpenTofu and
 * the bpg/proxmox provider from the offline toolchain) against the Proxmox VE API double,
 * for both reference examples. Each example shares one double and one state through its
 * tests, which run in order: deploy, re-plan, grow, survive a fault, destroy.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";

import { HA_PRIVILEGES, IMAGE_PRIVILEGES, SNAPSHOT_PRIVILEGES } from "../../preflight/privileges";
import type { VmView } from "../../proxmox-double";
import type { Definition } from "../fixtures/definitions";
import { cloud, homelab } from "../fixtures/definitions";

import type { E2eEnvironment, PlannedChange } from "./support/harness";
import {
  describeE2e,
  expectSuccess,
  homelabLocalTemplateSeed,
  oneLine,
  startEnvironment,
} from "./support/harness";
import { documentedAcl, documentedRole } from "./support/role";

/** Privileges of the documented role the suites' traffic needed (filled as they run). */
const privilegesNeeded = new Set<string>();
/** Privileges of the documented role no request of the provider needs (see its docs). */
const AUDIT_ONLY = ["Datastore.Audit", "Pool.Audit", "Sys.Audit"];

const VM = "proxmox_virtual_environment_vm";

/** The node outputs of the vms stack. */
interface NodeOutput {
  readonly name: string;
  readonly pool: string;
  readonly role: string;
  readonly vm_id: number;
  readonly host: string;
  readonly ipv4: string;
}

function byName(vms: readonly VmView[]): Map<string, VmView> {
  return new Map(vms.map((v) => [v.config.name, v]));
}

/** The keys the VM's cloud-init drive carries, decoded as a user reads them. */
function sshKeys(vm: VmView): string[] {
  return decodeURIComponent(vm.config.sshkeys ?? "")
    .split("\n")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** `key=value` pairs of a PVE property string (`virtio=MAC,bridge=vmbr0,tag=30`). */
function props(value: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (value ?? "")
      .split(",")
      .filter((p) => p.length > 0)
      .map((p) => {
        const i = p.indexOf("=");
        return i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
      }),
  );
}

/** Changes other than no-ops, as `address: actions` lines (readable when a test fails). */
function realChanges(changes: readonly PlannedChange[]): string[] {
  return changes
    .filter((c) => !(c.actions.length === 1 && c.actions[0] === "no-op"))
    .map((c) => `${c.address}: ${c.actions.join(",")}`);
}

/** Clone requests the double answered, per source VM ID. */
function cloneRequests(env: E2eEnvironment): string[] {
  return env.double
    .requests()
    .filter((r) => r.method === "POST" && /\/qemu\/\d+\/clone$/.test(r.path))
    .map((r) => r.path);
}

/** Requests that changed something (anything but GET) since the `from`-th request. */
function mutatingRequests(env: E2eEnvironment, from: number): string[] {
  return env.double
    .requests()
    .slice(from)
    .filter((r) => r.method !== "GET")
    .map((r) => `${r.method} ${r.path}`);
}

/** Files under `dir` (provider binaries in `.terraform` left out) that contain `text`. */
function filesContaining(dir: string, text: string): string[] {
  const hits: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isFile() || path.includes(`${sep}.terraform${sep}`)) continue;
    if (readFileSync(path, "utf8").includes(text)) hits.push(path);
  }
  return hits;
}

async function deploy(env: E2eEnvironment): Promise<string> {
  return expectSuccess(await env.cdktf(["deploy", "vms"]), "cdktf deploy vms").output;
}

/** Checks what every VM shares, from the definition: sizes, disk, NIC, cloud-init, tags. */
function expectNodeVm(
  vm: VmView | undefined,
  def: Definition,
  pool: Definition,
  expected: { readonly vmid: number; readonly ipconfig: string },
): VmView {
  if (!vm) throw new Error(`no VM for pool ${pool.name}`);
  const { proxmox, network, ssh } = def;
  expect(vm.vmid).toBe(expected.vmid);
  expect(vm.status).toBe("running");
  expect(vm.lock).toBeUndefined();
  expect(vm.config).toMatchObject({
    cores: String(pool.cores),
    memory: String(pool.memoryMiB),
    onboot: "1",
    ostype: "l26",
    scsihw: "virtio-scsi-single",
    ciuser: ssh.user,
    ipconfig0: expected.ipconfig,
    nameserver: network.dnsServers.join(" "),
    tags: [...new Set([def.name, pool.name, pool.role, ...(proxmox.tags ?? [])])].sort().join(";"),
  });
  expect(vm.config.agent).toMatch(/^enabled=1\b/);
  expect(vm.config.description).toContain(`cluster ${def.name}`);
  if (network.searchDomain) expect(vm.config.searchdomain).toBe(network.searchDomain);
  expect(sshKeys(vm)).toEqual(ssh.authorizedKeys);
  const disk = props(vm.config.scsi0);
  expect(vm.config.scsi0).toMatch(new RegExp(`^${proxmox.datastore}:vm-${vm.vmid}-disk-\\d+,`));
  expect(disk).toMatchObject({ size: `${pool.diskGiB}G`, discard: "on", iothread: "1" });
  // Cloud-init drive on the definition's datastore.
  expect(vm.config.ide2).toMatch(new RegExp(`^${proxmox.datastore}:vm-${vm.vmid}-cloudinit,`));
  const nic = props(vm.config.net0);
  expect(nic.virtio).toMatch(/^([0-9A-F]{2}:){5}[0-9A-F]{2}$/);
  expect(nic.bridge).toBe(network.bridge);
  expect(nic.tag).toBe(network.vlanId === undefined ? undefined : String(network.vlanId));
  // Inherited from the template, so the VM is a clone of it (the stack sets none of these).
  expect(vm.config).toMatchObject({ serial0: "socket", vga: "serial0", boot: "order=scsi0" });
  return vm;
}

describeE2e("vms stack end to end: homelab (static addresses, three hosts)", () => {
  let env: E2eEnvironment;
  let def: Definition;
  /** The seed's own VMs (template 9000, the K3s cluster kube01-06), before any deploy. */
  let seedVms: VmView[];
  /** Their volumes: every volume a deploy allocates must be gone after destroy. */
  let seedVolumes: unknown;

  beforeAll(async () => {
    env = await startEnvironment({ definition: homelab(), seed: "homelab" });
    def = env.definition;
    seedVms = env.double.vms();
    seedVolumes = env.double.state().volumes;
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("cdktf deploy vms creates the six VMs the definition describes", async () => {
    await deploy(env);
    const vms = byName(env.clusterVms());
    expect([...vms.keys()].sort()).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    const [cp, worker] = def.nodePools as Definition[];
    const expected: [string, Definition, number, string][] = [
      ["kspray-cp-1", cp, 4100, "10.10.30.21"],
      ["kspray-cp-2", cp, 4101, "10.10.30.22"],
      ["kspray-cp-3", cp, 4102, "10.10.30.23"],
      ["kspray-worker-1", worker, 4200, "10.10.30.31"],
      ["kspray-worker-2", worker, 4201, "10.10.30.32"],
      ["kspray-worker-3", worker, 4202, "10.10.30.33"],
    ];
    for (const [name, pool, vmid, ip] of expected) {
      const vm = expectNodeVm(vms.get(name), def, pool, {
        vmid,
        ipconfig: `gw=10.10.30.1,ip=${ip}/24`,
      });
      // Plain VMs: no GPU machine settings.
      expect(vm.config).toMatchObject({ cpu: "x86-64-v2-AES" });
      expect(vm.config.hostpci0).toBeUndefined();
      expect(vm.config.machine).toBeUndefined();
      expect(vm.config.bios).toBeUndefined();
    }
    // Every VM is a full clone of template 9000 (on pve01's view of the shared storage),
    // straight to its host; only pve01's clones name a target storage (non-shared
    // local-lvm, which Proxmox refuses for a clone to another node).
    expect(cloneRequests(env)).toEqual(Array(6).fill("/nodes/pve01/qemu/9000/clone"));
    for (const r of env.double.requests().filter((q) => q.path.endsWith("/9000/clone"))) {
      const target = r.params?.target ?? "pve01";
      expect([target, r.params?.storage]).toEqual([
        target,
        target === "pve01" ? "local-lvm" : undefined,
      ]);
    }

    // Placement: one control-plane node per host, and the workers spread over all three.
    const hostsOf = (prefix: string) =>
      [...vms.values()].filter((v) => v.config.name.startsWith(prefix)).map((v) => v.node);
    expect(hostsOf("kspray-cp-").sort()).toEqual(["pve01", "pve02", "pve03"]);
    expect(hostsOf("kspray-worker-").sort()).toEqual(["pve01", "pve02", "pve03"]);

    // The outputs say the same as the double.
    const nodes = (await env.outputs("vms")).nodes as Record<string, NodeOutput>;
    expect(Object.keys(nodes).sort()).toEqual([...vms.keys()].sort());
    for (const [name, , vmid, ip] of expected) {
      expect(nodes[name]).toMatchObject({ name, vm_id: vmid, host: vms.get(name)?.node, ipv4: ip });
    }
    expect(nodes["kspray-cp-1"]).toMatchObject({ pool: "cp", role: "control-plane" });
    expect(nodes["kspray-worker-1"]).toMatchObject({ pool: "worker", role: "worker" });

    // The K3s cluster beside it is untouched, and nothing called an unimplemented endpoint.
    expect(env.double.vms().filter((v) => v.vmid < 1000)).toEqual(
      seedVms.filter((v) => v.vmid < 1000),
    );
    expect(env.double.unknownRequests()).toEqual([]);
    // The token reached the provider through the environment only.
    const secret = env.double.token.split("=")[1];
    expect(filesContaining(env.outDir, secret)).toEqual([]);
  });

  it("plans no changes after the deploy, and a second deploy changes nothing", async () => {
    const plan = await env.plan("vms", { synth: false });
    expect(realChanges(plan.changes)).toEqual([]);
    expect(plan.exitCode).toBe(0);

    const before = env.double.vms();
    const from = env.double.requests().length;
    await deploy(env);
    expect(mutatingRequests(env, from)).toEqual([]);
    expect(env.double.vms()).toEqual(before);
  });

  it("adding a worker creates exactly one VM and modifies no other", async () => {
    const grown = env.definition;
    grown.nodePools[1].count = 4;
    env.writeDefinition(grown);

    const plan = await env.plan("vms");
    expect(plan.exitCode).toBe(2);
    const changes = realChanges(plan.changes).sort();
    expect(changes).toHaveLength(2);
    expect(changes[0]).toMatch(/^null_resource\.NodeRemoval_\w+\["kspray-worker-4"\]: create$/);
    expect(changes[1]).toMatch(new RegExp(`^${VM}\\.worker-4_\\w+: create$`));

    const before = env.clusterVms();
    await deploy(env);
    const after = byName(env.clusterVms());
    expect(after.size).toBe(7);
    // Every VM that was there is exactly as it was: same ID, host, status and config.
    for (const vm of before) expect(after.get(vm.config.name)).toEqual(vm);
    expectNodeVm(after.get("kspray-worker-4"), grown, grown.nodePools[1], {
      vmid: 4203,
      ipconfig: "gw=10.10.30.1,ip=10.10.30.34/24",
    });
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);
  });

  it("a failed clone fails the deploy with the provider's message; the next deploy converges", async () => {
    const grown = env.definition;
    grown.nodePools[1].count = 5;
    env.writeDefinition(grown);
    const nextClone = cloneRequests(env).length + 1;
    env.double.setFaults({ failClones: [nextClone] });

    const failed = await env.cdktf(["deploy", "vms"]);
    expect(failed.status).not.toBe(0);
    expect(failed.timedOut).toBe(false);
    // The provider's error for the clone task, with the task's own error and log.
    const text = oneLine(failed.output);
    expect(text).toContain("Error: VM clone");
    expect(text).toContain(
      `failed to complete with exit code: clone failed: injected fault (proxmox-double failClones: clone #${nextClone})`,
    );
    expect(text).toMatch(
      /with proxmox_virtual_environment_vm\.worker-5_\w+ \(worker-5\/Resource\)/,
    );
    expect(env.clusterVms().map((v) => v.config.name)).not.toContain("kspray-worker-5");

    env.double.setFaults({});
    await deploy(env);
    const names = env.clusterVms().map((v) => v.config.name);
    // One VM per node, none twice: the failed clone left nothing behind to duplicate.
    expect(names.sort()).toEqual([
      "kspray-cp-1",
      "kspray-cp-2",
      "kspray-cp-3",
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
      "kspray-worker-4",
      "kspray-worker-5",
    ]);
    expect(byName(env.clusterVms()).get("kspray-worker-5")?.vmid).toBe(4204);
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);
  });

  it("cdktf destroy vms leaves only what was there before", async () => {
    const result = expectSuccess(await env.cdktf(["destroy", "vms"]), "cdktf destroy vms");
    // No cluster record: each node's removal is a no-op, and says so.
    expect(result.output).toContain("is not part of the recorded cluster; nothing to remove");
    expect(env.clusterVms()).toEqual([]);
    expect(env.double.vms()).toEqual(seedVms);
    expect(env.double.state().volumes).toEqual(seedVolumes);
    expect(env.state("vms")?.resources ?? []).toEqual([]);
  });

  it("sent only requests real Proxmox accepts, with exactly the documented role", () => {
    expect(env.trafficViolations()).toEqual([]);
    for (const p of env.privilegesNeeded()) privilegesNeeded.add(p);
  });
});

describeE2e("vms stack end to end: cloud-cluster (DHCP, a GPU worker)", () => {
  let env: E2eEnvironment;
  let def: Definition;
  let seedVms: VmView[];
  /** Their volumes: every volume a deploy allocates must be gone after destroy. */
  let seedVolumes: unknown;

  beforeAll(async () => {
    const definition = cloud();
    // Bounds the wait for an address the agent never reports (see the last test but one).
    definition.proxmox.agentTimeout = "20s";
    env = await startEnvironment({ definition, seed: "cloud" });
    def = env.definition;
    seedVms = env.double.vms();
    seedVolumes = env.double.state().volumes;
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("cdktf deploy vms creates the three VMs, the GPU one with its PCI mapping", async () => {
    await deploy(env);
    const vms = byName(env.clusterVms());
    expect([...vms.keys()].sort()).toEqual([
      "cloud-controller-1",
      "cloud-cpu-worker-1",
      "cloud-gpu-worker-1",
    ]);
    const [controller, cpuWorker, gpuWorker] = def.nodePools as Definition[];
    const expected: [string, Definition, number][] = [
      ["cloud-controller-1", controller, 5000],
      ["cloud-cpu-worker-1", cpuWorker, 5100],
      ["cloud-gpu-worker-1", gpuWorker, 5200],
    ];
    for (const [name, pool, vmid] of expected) {
      const vm = expectNodeVm(vms.get(name), def, pool, { vmid, ipconfig: "ip=dhcp" });
      expect(vm.node).toBe("hypervisor");
    }
    expect(cloneRequests(env)).toEqual(Array(3).fill("/nodes/hypervisor/qemu/9100/clone"));

    for (const name of ["cloud-controller-1", "cloud-cpu-worker-1"]) {
      const vm = vms.get(name);
      expect(vm?.config.cpu).toBe("x86-64-v2-AES");
      expect(vm?.config.hostpci0).toBeUndefined();
      expect(vm?.config.machine).toBeUndefined();
    }
    const gpu = vms.get("cloud-gpu-worker-1");
    expect(gpu?.config).toMatchObject({ machine: "q35", bios: "ovmf", cpu: "host" });
    expect(props(gpu?.config.hostpci0)).toMatchObject({ mapping: "rtx-a6000", pcie: "1" });
    expect(props(gpu?.config.hostpci0).rombar).not.toBe("0");
    expect(gpu?.config.efidisk0).toMatch(/^local-zfs:vm-5200-disk-\d+,.*efitype=4m/);

    // Addresses come from the guest agent: the double's DHCP leases on vmbr1.
    const nodes = (await env.outputs("vms")).nodes as Record<string, NodeOutput>;
    const leases = env.double.state().leases as Record<string, string>;
    for (const [name, pool, vmid] of expected) {
      expect(nodes[name]).toMatchObject({
        name,
        pool: pool.name,
        role: pool.role,
        vm_id: vmid,
        host: "hypervisor",
      });
      const mac = props(vms.get(name)?.config.net0).virtio;
      expect(nodes[name].ipv4).toBe(leases[mac]);
      expect(nodes[name].ipv4).toMatch(/^192\.168\.100\.1\d\d$/);
    }
    expect(new Set(Object.values(nodes).map((n) => n.ipv4)).size).toBe(3);
    expect(env.double.unknownRequests()).toEqual([]);
  });

  it("plans no changes after the deploy", async () => {
    const plan = await env.plan("vms", { synth: false });
    expect(realChanges(plan.changes)).toEqual([]);
    expect(plan.exitCode).toBe(0);
  });

  it("fails with a clear timeout, not a hang, when the agent never reports an address", async () => {
    const grown = env.definition;
    grown.nodePools[1].count = 2;
    env.writeDefinition(grown);
    env.double.setFaults({ agentNoAddress: [5101] });
    const before = env.clusterVms();

    const failed = await env.cdktf(["deploy", "vms"], { timeoutMs: 240_000 });
    expect(failed.timedOut).toBe(false);
    expect(failed.status).not.toBe(0);
    const text = oneLine(failed.output);
    expect(text).toContain("Error: Resource postcondition failed");
    expect(text).toContain(
      "cloud-cpu-worker-2: the QEMU guest agent reported no IPv4 address within 20s (proxmox.agentTimeout)",
    );
    // 20 s of waiting plus synth and apply; far from the default 15 minutes.
    expect(failed.durationMs).toBeLessThan(180_000);

    // Once the agent answers, the next deploy converges without a second VM.
    env.double.setFaults({});
    await deploy(env);
    const names = env.clusterVms().map((v) => v.config.name);
    expect(names.filter((n) => n === "cloud-cpu-worker-2")).toHaveLength(1);
    expect(names).toHaveLength(4);
    const after = byName(env.clusterVms());
    for (const vm of before) expect(after.get(vm.config.name)).toEqual(vm);
    const nodes = (await env.outputs("vms")).nodes as Record<string, NodeOutput>;
    expect(nodes["cloud-cpu-worker-2"].ipv4).toMatch(/^192\.168\.100\.1\d\d$/);
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);
  });

  it("cdktf destroy vms leaves only the template", async () => {
    expectSuccess(await env.cdktf(["destroy", "vms"]), "cdktf destroy vms");
    expect(env.clusterVms()).toEqual([]);
    expect(env.double.vms()).toEqual(seedVms);
    expect(env.double.vms().map((v) => v.vmid)).toEqual([9100]);
    expect(env.double.state().volumes).toEqual(seedVolumes);
  });

  it("sent only requests real Proxmox accepts, with exactly the documented role", () => {
    expect(env.trafficViolations()).toEqual([]);
    for (const p of env.privilegesNeeded()) privilegesNeeded.add(p);
  });
});

describeE2e("vms stack end to end: homelab with the template on pve01's local storage", () => {
  let env: E2eEnvironment;

  beforeAll(async () => {
    const definition = homelab();
    definition.proxmox.template = { ...definition.proxmox.template, storage: "local" };
    env = await startEnvironment({ definition, seed: homelabLocalTemplateSeed() });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("clones every VM on pve01 onto local-lvm and migrates the others to their host", async () => {
    await deploy(env);
    const vms = env.clusterVms();
    expect(vms).toHaveLength(6);
    for (const vm of vms) {
      expect(vm.config.scsi0).toMatch(new RegExp(`^local-lvm:vm-${vm.vmid}-disk-\\d+,`));
    }
    expect(new Set(vms.map((v) => v.node))).toEqual(new Set(["pve01", "pve02", "pve03"]));
    const migrations = env.double
      .requests()
      .filter((r) => r.method === "POST" && r.path.endsWith("/migrate"));
    expect(migrations).toHaveLength(vms.filter((v) => v.node !== "pve01").length);
    expect((await env.plan("vms", { synth: false })).exitCode).toBe(0);
    expectSuccess(await env.cdktf(["destroy", "vms"]), "cdktf destroy vms");
    expect(env.clusterVms()).toEqual([]);
  });

  it("sent only requests real Proxmox accepts, with exactly the documented role", () => {
    expect(env.trafficViolations()).toEqual([]);
    for (const p of env.privilegesNeeded()) privilegesNeeded.add(p);
  });
});

describeE2e("vms stack end to end: a token lacking one documented privilege", () => {
  let env: E2eEnvironment;

  beforeAll(async () => {
    env = await startEnvironment({
      definition: homelab(),
      seed: "homelab",
      double: { acl: documentedAcl(["VM.Config.Cloudinit"]) },
      checkTraffic: false, // the 403s are the point
    });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("fails the deploy with Proxmox's message naming the missing privilege", async () => {
    const result = await env.cdktf(["deploy", "vms"]);
    expect(result.status).not.toBe(0);
    expect(oneLine(result.output)).toMatch(
      /Permission check failed \(\/vms\/\d+, VM\.Config\.Cloudinit\)/,
    );
  });
});

describeE2e("vms stack end to end: a VM with more vCPUs than its host has", () => {
  let env: E2eEnvironment;

  beforeAll(async () => {
    const definition = homelab();
    // The homelab seed's hosts have 16 CPUs; Proxmox refuses to start a bigger VM.
    (definition.nodePools as Definition[])[1].cores = 24;
    env = await startEnvironment({ definition, seed: "homelab" });
  });

  afterAll(async () => {
    await env?.stop();
  });

  it("fails the deploy with the start task's error, which the provider reports", async () => {
    const result = await env.cdktf(["deploy", "vms"]);
    expect(result.status).not.toBe(0);
    expect(oneLine(result.output)).toContain("MAX 16 vcpus allowed per VM on this node");
    const failed = env.double
      .tasks()
      .filter((t) => t.type === "qmstart" && t.exitstatus !== "OK")
      .map((t) => t.exitstatus);
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed)).toEqual(new Set(["MAX 16 vcpus allowed per VM on this node"]));
  });

  it("with the cores fixed, npm run deploy makes the unfinished VMs anew, as none joined a cluster", async () => {
    const stopped = env.clusterVms().filter((v) => v.status === "stopped");
    expect(stopped.map((v) => v.config.name).sort()).toEqual([
      "kspray-worker-1",
      "kspray-worker-2",
      "kspray-worker-3",
    ]);
    const running = Object.fromEntries(
      Object.entries(env.vmIdentities()).filter(([n]) => n.startsWith("kspray-cp-")),
    );
    const fixed = env.definition;
    (fixed.nodePools as Definition[])[1].cores = 8;
    env.writeDefinition(fixed);

    const deploy = expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms");
    for (const vm of stopped)
      expect(deploy.stderr).toContain(
        `${vm.config.name} (VM ${vm.node}/${vm.vmid}): its VM would be deleted and cloned anew (tainted); it is not part of the cluster, so the deploy makes it anew`,
      );
    const vms = byName(env.clusterVms());
    for (const vm of stopped)
      expect(vms.get(vm.config.name)).toMatchObject({ status: "running", config: { cores: "8" } });
    // The control plane, which started, is the same.
    for (const [name, identity] of Object.entries(running))
      expect(env.vmIdentities()[name]).toEqual(identity);
  });
});

describeE2e("vms stack end to end: the documented role", () => {
  it("holds only privileges the deploys above needed, besides the documented audit ones", () => {
    const unused = documentedRole().privileges.filter((p) => !privilegesNeeded.has(p));
    // Read-only extras docs/proxmox.md names: for people and tools looking at the cluster;
    // and those of a template from a cloud image, which template.e2e.test.ts shows needed,
    // and those of HA and snapshots, which ha.e2e.test.ts shows needed.
    expect(unused.sort()).toEqual(
      [...AUDIT_ONLY, ...IMAGE_PRIVILEGES, ...HA_PRIVILEGES, ...SNAPSHOT_PRIVILEGES].sort(),
    );
  });
});
