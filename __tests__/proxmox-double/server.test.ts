import { ProxmoxDouble } from "../../proxmox-double";

import { api, data, raw, until, waitTask } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const FAST = { cloneDurationMs: 150, taskDurationMs: 20, agentDelayMs: 250 } as const;
/** How long a task whose lock a test looks at lasts: longer than a request on a busy machine. */
const LOCK_VISIBLE_MS = 3000;
const UPID = /^UPID:[a-z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[a-z]+:\d+:root@pam!double:$/;

/** Clones template 9000 (pve01, local-lvm) to `newid` and waits for the task. */
async function cloneTemplate(
  double: ProxmoxDouble,
  newid: number,
  extra: Record<string, string> = {},
) {
  const upid: string = await data(double, "POST", "nodes/pve01/qemu/9000/clone", {
    newid,
    full: 1,
    storage: "local-lvm",
    name: `vm-${newid}`,
    ...extra,
  });
  return waitTask(double, upid);
}

describe("proxmox double: transport and auth", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({
      ...FAST,
      tokenSecret: "0c3b2a1d-0000-4000-8000-000000000001",
    });
  });
  afterAll(() => double.stop());

  it("serves HTTPS on loopback with the token it prints", () => {
    expect(double.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(double.token).toBe("root@pam!double=0c3b2a1d-0000-4000-8000-000000000001");
    expect(double.certificate).toContain("BEGIN CERTIFICATE");
  });

  it("rejects a request without a token with 401 No ticket", async () => {
    const res = await api(double, "GET", "version", {}, null);
    expect(res.status).toBe(401);
    expect(res.statusMessage).toBe("No ticket");
  });

  it("rejects a wrong secret and a wrong token id", async () => {
    expect((await api(double, "GET", "version", {}, "root@pam!double=deadbeef")).status).toBe(401);
    const otherId = double.token.replace("!double", "!other");
    expect((await api(double, "GET", "version", {}, otherId)).status).toBe(401);
  });

  it("records a request it refuses for its token by the API path, as every other", async () => {
    const before = double.requests().length;
    await api(double, "GET", "version", {}, "root@pam!double=deadbeef");
    expect(double.requests().slice(before)).toEqual([
      expect.objectContaining({
        method: "GET",
        path: "/version",
        rawPath: "/version",
        status: 401,
      }),
    ]);
  });

  it("answers /version, /nodes and /cluster/status in the {data} envelope", async () => {
    expect(await data(double, "GET", "version")).toMatchObject({
      version: "8.4.1",
      release: "8.4",
    });
    const nodes = await data(double, "GET", "nodes");
    expect(nodes.map((n: { node: string }) => n.node)).toEqual(["pve01", "pve02", "pve03"]);
    const status = await data(double, "GET", "cluster/status");
    expect(status[0]).toMatchObject({ type: "cluster", quorate: 1, nodes: 3 });
  });

  it("answers 501 for an endpoint it does not implement, and records it", async () => {
    const res = await api(double, "GET", "nodes/pve01/qemu/9000/rrddata", { timeframe: "hour" });
    expect(res.status).toBe(501);
    expect(res.statusMessage).toBe("Method 'GET /nodes/pve01/qemu/9000/rrddata' not implemented");
    expect(double.unknownRequests()).toContainEqual({
      method: "GET",
      path: "/nodes/pve01/qemu/9000/rrddata",
    });
    const control = await raw(double, "GET", "/_double/unknown");
    expect(control.body).toContainEqual({ method: "GET", path: "/nodes/pve01/qemu/9000/rrddata" });
  });

  it("reports 'does not exist' for a VM that is not on the node", async () => {
    const res = await api(double, "GET", "nodes/pve02/qemu/9000/config");
    expect(res.status).toBe(500);
    expect(res.statusMessage).toBe(
      "Configuration file 'nodes/pve02/qemu-server/9000.conf' does not exist",
    );
  });
});

describe("proxmox double: VM lifecycle", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start(FAST);
  });
  afterAll(() => double.stop());

  it("hands out the next free VM ID and checks a requested one", async () => {
    expect(await data(double, "GET", "cluster/nextid")).toBe("100");
    expect(await data(double, "GET", "cluster/nextid", { vmid: 4100 })).toBe("4100");
    const taken = await api(double, "GET", "cluster/nextid", { vmid: 9000 });
    expect(taken.status).toBe(400);
    expect(taken.statusMessage).toBe("Parameter verification failed.");
    expect(taken.body.errors).toEqual({ vmid: "VM 9000 already exists" });
  });

  it("clones a template: UPID task, `clone` lock while it runs, new disks and MACs", async () => {
    const upid: string = await data(double, "POST", "nodes/pve01/qemu/9000/clone", {
      newid: 4100,
      full: 1,
      storage: "local-lvm",
      name: "kspray-cp-1",
      description: "control plane",
    });
    expect(upid).toMatch(UPID);
    expect(upid.split(":")[5]).toBe("qmclone");
    const during = await data(double, "GET", "nodes/pve01/qemu/4100/status/current");
    expect(during).toMatchObject({ status: "stopped", lock: "clone" });
    expect(
      (await data(double, "GET", `nodes/pve01/tasks/${encodeURIComponent(upid)}/status`)).status,
    ).toBe("running");

    const done = await waitTask(double, upid);
    expect(done).toMatchObject({ status: "stopped", exitstatus: "OK", type: "qmclone" });
    const after = await data(double, "GET", "nodes/pve01/qemu/4100/status/current");
    expect(after.lock).toBeUndefined();

    const config = await data(double, "GET", "nodes/pve01/qemu/4100/config");
    const template = await data(double, "GET", "nodes/pve01/qemu/9000/config");
    expect(config.name).toBe("kspray-cp-1");
    expect(config.description).toBe("control plane");
    expect(config.template).toBeUndefined();
    expect(config.scsi0).toBe("local-lvm:vm-4100-disk-0,iothread=1,size=3G");
    expect(config.ide2).toBe("local-lvm:vm-4100-cloudinit,media=cdrom,size=4M");
    expect(config.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$/);
    expect(config.net0).not.toBe(template.net0);
    expect(config.smbios1).not.toBe(template.smbios1);

    const content = await data(double, "GET", "nodes/pve01/storage/local-lvm/content");
    expect(content.map((v: { volid: string }) => v.volid)).toEqual(
      expect.arrayContaining(["local-lvm:vm-4100-disk-0", "local-lvm:vm-4100-cloudinit"]),
    );
    const volume = await data(
      double,
      "GET",
      "nodes/pve01/storage/local-lvm/content/local-lvm:vm-4100-disk-0",
    );
    expect(volume).toMatchObject({
      format: "raw",
      size: 3 * 1024 ** 3,
      path: "/dev/pve/vm-4100-disk-0",
    });
    const resources = await data(double, "GET", "cluster/resources", { type: "vm" });
    expect(resources).toContainEqual(
      expect.objectContaining({ id: "qemu/4100", vmid: 4100, node: "pve01" }),
    );
  });

  it("refuses a second VM with the same ID", async () => {
    const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", { newid: 4100, full: 1 });
    expect(res.status).toBe(500);
    expect(res.statusMessage).toBe("unable to create VM 4100: config file already exists");
  });

  it("round-trips the config the provider writes, normalized like qemu-server", async () => {
    const keys = encodeURIComponent(
      [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOFPeUq6058Tiqx2a1dC0j6 ops@cloud",
        "ssh-ed25519 AAAAB other@host",
      ].join("\n"),
    ).replace(/\+/g, "%20");
    await data(double, "PUT", "nodes/pve01/qemu/4100/config", { delete: "ide2" });
    let config = await data(double, "GET", "nodes/pve01/qemu/4100/config");
    expect(config.ide2).toBeUndefined();
    await data(double, "PUT", "nodes/pve01/qemu/4100/config", {
      agent: "enabled=1,fstrim_cloned_disks=0,type=virtio",
      cores: 4,
      cpu: "x86-64-v2-AES",
      numa: 0,
      sockets: 1,
      memory: 8192,
      balloon: 0,
      ide2: "file=local-lvm:cloudinit",
      ipconfig0: "gw=10.10.30.1,ip=10.10.30.21/24",
      nameserver: "10.10.30.1",
      searchdomain: "home.lan",
      ciuser: "debian",
      sshkeys: keys,
      net0: "model=virtio,bridge=vmbr0,firewall=0,tag=30",
      ostype: "l26",
      onboot: 1,
      tags: "kubespray;homelab",
      serial0: "socket",
      delete: "net1,net2,net3",
    });
    config = await data(double, "GET", "nodes/pve01/qemu/4100/config");
    expect(config).toMatchObject({
      cores: 4,
      sockets: 1,
      numa: 0,
      onboot: 1,
      balloon: 0,
      memory: "8192",
      agent: "enabled=1,fstrim_cloned_disks=0,type=virtio",
      ide2: "local-lvm:vm-4100-cloudinit,media=cdrom,size=4M",
      ipconfig0: "gw=10.10.30.1,ip=10.10.30.21/24",
      tags: "homelab;kubespray",
      sshkeys: keys,
    });
    expect(config.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0,firewall=0,tag=30$/);
    expect(typeof config.digest).toBe("string");
  });

  it("rejects options qemu-server does not know, and values of the wrong type", async () => {
    const unknown = await api(double, "PUT", "nodes/pve01/qemu/4100/config", {
      cores: 2,
      coress: 4,
    });
    expect(unknown.status).toBe(400);
    expect(Object.keys(unknown.body.errors)).toEqual(["coress"]);
    const wrongType = await api(double, "PUT", "nodes/pve01/qemu/4100/config", { cores: "four" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors.cores).toMatch(/integer/);
    expect((await data(double, "GET", "nodes/pve01/qemu/4100/config")).cores).toBe(4);
  });

  it("grows a disk through a resize task and refuses to shrink it", async () => {
    const upid: string = await data(double, "PUT", "nodes/pve01/qemu/4100/resize", {
      disk: "scsi0",
      size: 40 * 1024 ** 3,
    });
    expect(upid).toMatch(UPID);
    expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK" });
    const config = await data(double, "GET", "nodes/pve01/qemu/4100/config");
    expect(config.scsi0).toBe("local-lvm:vm-4100-disk-0,iothread=1,size=40G");
    const vol = await data(
      double,
      "GET",
      "nodes/pve01/storage/local-lvm/content/local-lvm:vm-4100-disk-0",
    );
    expect(vol.size).toBe(40 * 1024 ** 3);
    const shrink = await api(double, "PUT", "nodes/pve01/qemu/4100/resize", {
      disk: "scsi0",
      size: "10G",
    });
    // qemu-server refuses inside the resize task, so the request itself succeeds.
    expect(shrink.status).toBe(200);
    expect(await waitTask(double, shrink.body.data)).toMatchObject({
      type: "resize",
      exitstatus: "shrinking disks is not supported",
    });
  });

  it("starts and stops a VM through tasks, and knows when it already runs", async () => {
    const noAgentYet = await api(
      double,
      "GET",
      "nodes/pve01/qemu/4100/agent/network-get-interfaces",
    );
    expect(noAgentYet.statusMessage).toBe("VM 4100 is not running");

    await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4100/status/start", { timeout: 300 }),
    );
    expect(await data(double, "GET", "nodes/pve01/qemu/4100/status/current")).toMatchObject({
      status: "running",
      qmpstatus: "running",
      agent: 1,
    });
    const again = await data(double, "POST", "nodes/pve01/qemu/4100/status/start");
    expect((await waitTask(double, again)).exitstatus).toBe("VM 4100 already running");

    const booting = await api(double, "POST", "nodes/pve01/qemu/4100/agent/ping");
    expect(booting.status).toBe(500);
    expect(booting.statusMessage).toBe("QEMU guest agent is not running");

    // Until the guest agent has booted.
    await until(
      async () => (await api(double, "POST", "nodes/pve01/qemu/4100/agent/ping")).status === 200,
    );
    expect(await data(double, "POST", "nodes/pve01/qemu/4100/agent/ping")).toEqual({ result: {} });
    const ifaces = (await data(double, "GET", "nodes/pve01/qemu/4100/agent/network-get-interfaces"))
      .result;
    const config = await data(double, "GET", "nodes/pve01/qemu/4100/config");
    const mac = /virtio=([^,]+)/.exec(config.net0)?.[1].toLowerCase();
    expect(ifaces.map((i: { name: string }) => i.name)).toEqual(["lo", "ens18"]);
    expect(ifaces[1]["hardware-address"]).toBe(mac);
    expect(ifaces[1]["ip-addresses"]).toContainEqual({
      "ip-address-type": "ipv4",
      "ip-address": "10.10.30.21",
      prefix: 24,
    });

    const running = await data(double, "DELETE", "nodes/pve01/qemu/4100");
    expect((await waitTask(double, running)).exitstatus).toBe(
      "VM 4100 is running - destroy failed",
    );
    expect(double.vm(4100)?.status).toBe("running");

    await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4100/status/shutdown", { forceStop: 1 }),
    );
    expect((await data(double, "GET", "nodes/pve01/qemu/4100/status/current")).status).toBe(
      "stopped",
    );
    const notRunning = await api(double, "POST", "nodes/pve01/qemu/4100/status/shutdown");
    expect(notRunning.statusMessage).toBe("VM 4100 not running");
  });

  it("gives a DHCP guest a lease from the bridge's pool, stable across reads", async () => {
    await cloneTemplate(double, 4200, { name: "dhcp-vm" });
    await data(double, "PUT", "nodes/pve01/qemu/4200/config", {
      net0: "model=virtio,bridge=vmbr1,firewall=0",
    });
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/4200/status/start"));
    await until(
      async () => (await api(double, "POST", "nodes/pve01/qemu/4200/agent/ping")).status === 200,
    );
    const read = async () =>
      (await data(double, "GET", "nodes/pve01/qemu/4200/agent/network-get-interfaces")).result[1][
        "ip-addresses"
      ];
    const first = await read();
    expect(first[0]).toEqual({
      "ip-address-type": "ipv4",
      "ip-address": "192.168.100.100",
      prefix: 24,
    });
    expect(first[1]["ip-address"]).toMatch(/^fe80::/);
    expect(await read()).toEqual(first);
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/4200/status/stop"));
  });

  it("says when a VM has no agent configured", async () => {
    await data(double, "PUT", "nodes/pve01/qemu/4200/config", { agent: "enabled=0" });
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/4200/status/start"));
    const res = await api(double, "POST", "nodes/pve01/qemu/4200/agent/ping");
    expect(res.statusMessage).toBe("No QEMU guest agent configured");
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/4200/status/stop"));
  });

  it("destroys a stopped VM: its volumes go and every read says it does not exist", async () => {
    const upid: string = await data(double, "DELETE", "nodes/pve01/qemu/4100/", {
      "destroy-unreferenced-disks": 1,
      purge: 1,
    });
    expect(upid.split(":")[5]).toBe("qmdestroy");
    expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK" });
    for (const path of ["config", "status/current"]) {
      const res = await api(double, "GET", `nodes/pve01/qemu/4100/${path}`);
      expect(res.status).toBe(500);
      expect(res.statusMessage).toMatch(/does not exist$/);
    }
    const content = await data(double, "GET", "nodes/pve01/storage/local-lvm/content", {
      vmid: 4100,
    });
    expect(content).toEqual([]);
    expect(double.vm(4100)).toBeUndefined();
    const resources = await data(double, "GET", "cluster/resources", { type: "vm" });
    expect(resources.map((r: { vmid: number }) => r.vmid)).not.toContain(4100);
  });
});

describe("proxmox double: nodes, storage and PCI passthrough", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start(FAST);
  });
  afterAll(() => double.stop());

  it("refuses to clone local disks straight to another node", async () => {
    const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", {
      newid: 4300,
      full: 1,
      target: "pve02",
    });
    expect(res.status).toBe(500);
    expect(res.statusMessage).toBe("can't clone VM to node 'pve02' (VM uses local storage)");
  });

  it("migrates a stopped VM with its local disks to another node", async () => {
    await cloneTemplate(double, 4300);
    const local = await api(double, "POST", "nodes/pve01/qemu/4300/migrate", { target: "pve01" });
    expect(local.status).toBe(400);
    expect(local.body.errors).toEqual({ target: "target is local node." });
    // Offline, local disks go along without `with-local-disks` (that is for online).
    const upid: string = await data(double, "POST", "nodes/pve01/qemu/4300/migrate", {
      target: "pve02",
    });
    expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK", type: "qmigrate" });
    expect(double.vm(4300)?.node).toBe("pve02");
    expect((await data(double, "GET", "nodes/pve02/qemu/4300/config")).scsi0).toMatch(
      /^local-lvm:vm-4300-disk-0,/,
    );
    const onPve02 = await data(double, "GET", "nodes/pve02/storage/local-lvm/content", {
      vmid: 4300,
    });
    expect(onPve02).toHaveLength(2);
    expect(
      await data(double, "GET", "nodes/pve01/storage/local-lvm/content", { vmid: 4300 }),
    ).toEqual([]);
  });

  it("reports whether a datastore is shared", async () => {
    expect(await data(double, "GET", "nodes/pve01/storage/local-lvm/status")).toMatchObject({
      type: "lvmthin",
      shared: 0,
      active: 1,
    });
    const missing = await api(double, "GET", "nodes/pve01/storage/nope/status");
    expect(missing.status).toBe(500);
  });

  it("lists PCI resource mappings", async () => {
    const mappings = await data(double, "GET", "cluster/mapping/pci");
    expect(mappings[0]).toMatchObject({ id: "rtx-a6000" });
    expect(mappings[0].map[0]).toMatch(/^node=pve01,path=0000:01:00.0,id=10de:2230/);
  });

  it("accepts a mapped GPU, and refuses an unknown mapping and raw host IDs from a token", async () => {
    await cloneTemplate(double, 4400, { name: "gpu" });
    // Proxmox takes any mapping name into the config and fails the start task instead.
    await data(double, "PUT", "nodes/pve01/qemu/4400/config", {
      hostpci0: "mapping=nope,pcie=1",
      machine: "q35",
    });
    const unknown = await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4400/status/start"),
    );
    expect(unknown.exitstatus).toBe("PCI device mapping not found for 'nope'");
    await data(double, "PUT", "nodes/pve01/qemu/4400/config", { delete: "machine" });
    const rawIds = await api(double, "PUT", "nodes/pve01/qemu/4400/config", {
      hostpci0: "host=0000:01:00.0,pcie=1",
    });
    expect(rawIds.statusMessage).toBe("only root can set 'hostpci0' config for non-mapped devices");
    await data(double, "PUT", "nodes/pve01/qemu/4400/config", {
      hostpci0: "mapping=rtx-a6000,pcie=1,rombar=1,x-vga=0",
      bios: "ovmf",
    });
  });

  it("fails to start pcie passthrough without q35, like QEMU", async () => {
    const start = await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4400/status/start"),
    );
    expect(start.exitstatus).toBe("q35 machine model is not enabled");
    expect((await data(double, "GET", "nodes/pve01/qemu/4400/status/current")).status).toBe(
      "stopped",
    );
  });

  it("warns about OVMF without an EFI disk, and allocates one on request", async () => {
    await data(double, "PUT", "nodes/pve01/qemu/4400/config", { machine: "q35" });
    const warned = await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4400/status/start"),
    );
    expect(warned.exitstatus).toBe("WARNINGS: 1");
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/4400/status/stop"));

    await data(double, "PUT", "nodes/pve01/qemu/4400/config", {
      efidisk0: "file=local-zfs:1,format=raw,efitype=4m,pre-enrolled-keys=0",
    });
    const config = await data(double, "GET", "nodes/pve01/qemu/4400/config");
    expect(config.efidisk0).toBe("local-zfs:vm-4400-disk-0,efitype=4m,pre-enrolled-keys=0,size=1M");
    const efi = await data(
      double,
      "GET",
      "nodes/pve01/storage/local-zfs/content/local-zfs:vm-4400-disk-0",
    );
    expect(efi.format).toBe("raw");
    const ok = await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4400/status/start"),
    );
    expect(ok.exitstatus).toBe("OK");
  });

  it("keeps a mapped GPU for one running VM at a time", async () => {
    await cloneTemplate(double, 4401, { name: "gpu2" });
    await data(double, "PUT", "nodes/pve01/qemu/4401/config", {
      hostpci0: "mapping=rtx-a6000,pcie=1",
      machine: "q35",
    });
    const start = await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/4401/status/start"),
    );
    expect(start.exitstatus).toBe("PCI device '0000:01:00.0' already in use by VMID '4400'");
  });
});

describe("proxmox double: faults", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    // Clones long enough to see the second one's lock on a busy machine.
    double = await ProxmoxDouble.start({
      ...FAST,
      cloneDurationMs: LOCK_VISIBLE_MS,
      faults: { failClones: [2] },
    });
  });
  afterAll(() => double.stop());

  it("fails the Nth clone and cleans up the half-made VM like qemu-server", async () => {
    expect((await cloneTemplate(double, 5000)).exitstatus).toBe("OK");
    const upid: string = await data(double, "POST", "nodes/pve01/qemu/9000/clone", {
      newid: 5001,
      full: 1,
      storage: "local-lvm",
    });
    expect((await data(double, "GET", "nodes/pve01/qemu/5001/status/current")).lock).toBe("clone");
    const failed = await waitTask(double, upid);
    expect(failed.exitstatus).toMatch(/^clone failed: /);
    const log = await data(double, "GET", `nodes/pve01/tasks/${encodeURIComponent(upid)}/log`);
    expect(log[log.length - 1].t).toBe(`TASK ERROR: ${failed.exitstatus}`);
    expect(double.vm(5001)).toBeUndefined();
    expect(
      await data(double, "GET", "nodes/pve01/storage/local-lvm/content", { vmid: 5001 }),
    ).toEqual([]);
    expect((await cloneTemplate(double, 5002)).exitstatus).toBe("OK");
  });

  it("fails every task of a type set through the control endpoint", async () => {
    const set = await raw(
      double,
      "PUT",
      "/_double/faults",
      JSON.stringify({ failTasks: ["qmstart"] }),
    );
    expect(set.body).toEqual({ failTasks: ["qmstart"] });
    const start = await waitTask(
      double,
      await data(double, "POST", "nodes/pve01/qemu/5000/status/start"),
    );
    expect(start.exitstatus).toMatch(/^qmstart failed/);
    expect(double.vm(5000)?.status).toBe("stopped");
  });

  it("makes the agent report no routable address", async () => {
    await raw(double, "PUT", "/_double/faults", JSON.stringify({ agentNoAddress: [5000] }));
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/5000/status/start"));
    await data(double, "PUT", "nodes/pve01/qemu/5002/config", { ipconfig0: "ip=10.0.0.9/24" });
    await waitTask(double, await data(double, "POST", "nodes/pve01/qemu/5002/status/start"));
    await until(
      async () =>
        (await api(double, "POST", "nodes/pve01/qemu/5000/agent/ping")).status === 200 &&
        (await api(double, "POST", "nodes/pve01/qemu/5002/agent/ping")).status === 200,
    );
    const addresses = async (vmid: number) =>
      (await data(double, "GET", `nodes/pve01/qemu/${vmid}/agent/network-get-interfaces`))
        .result[1]["ip-addresses"];
    const blocked = await addresses(5000);
    expect(
      blocked.filter((a: { "ip-address-type": string }) => a["ip-address-type"] === "ipv4"),
    ).toEqual([]);
    expect((await addresses(5002))[0]["ip-address"]).toBe("10.0.0.9");
  });

  it("exposes every VM with its config at /_double/state", async () => {
    const state = await raw(double, "GET", "/_double/state");
    const vmids = state.body.vms.map((v: { vmid: number }) => v.vmid);
    expect(vmids).toEqual([5000, 5002, 9000, 9100]);
    expect(state.body.vms[0].config.scsi0).toMatch(/^local-lvm:vm-5000-disk-0/);
    expect(state.body.faults).toEqual({ agentNoAddress: [5000] });
  });
});

describe("proxmox double: create, template and linked clone", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    // Tasks long enough to see the create task's lock on a busy machine (20 ms can pass
    // before the next request is served).
    double = await ProxmoxDouble.start({ ...FAST, taskDurationMs: LOCK_VISIBLE_MS });
  });
  afterAll(() => double.stop());

  it("creates a VM, allocating `STORAGE:SIZE` disks and a cloud-init drive", async () => {
    const upid: string = await data(double, "POST", "nodes/pve02/qemu", {
      vmid: 600,
      name: "blank",
      memory: 1024,
      scsi0: "file=local-lvm:8,format=raw,iothread=1",
      ide2: "file=local-lvm:cloudinit",
      net0: "model=virtio,bridge=vmbr0",
      agent: "enabled=1",
    });
    expect(upid.split(":").slice(1, 2).concat(upid.split(":").slice(5, 7))).toEqual([
      "pve02",
      "qmcreate",
      "600",
    ]);
    expect((await data(double, "GET", "nodes/pve02/qemu/600/status/current")).lock).toBe("create");
    expect(await waitTask(double, upid)).toMatchObject({ exitstatus: "OK" });
    const config = await data(double, "GET", "nodes/pve02/qemu/600/config");
    expect(config.scsi0).toBe("local-lvm:vm-600-disk-0,iothread=1,size=8G");
    expect(config.ide2).toBe("local-lvm:vm-600-cloudinit,media=cdrom,size=4M");
    expect(config.lock).toBeUndefined();
    const taken = await api(double, "POST", "nodes/pve01/qemu", { vmid: 600 });
    expect(taken.statusMessage).toBe(
      "unable to create VM 600 - VM 600 already exists on node 'pve02'",
    );
  });

  it("turns a replaced disk into unusedN and frees it when that is deleted", async () => {
    await data(double, "PUT", "nodes/pve02/qemu/600/config", { scsi0: "local-lvm:16" });
    let config = await data(double, "GET", "nodes/pve02/qemu/600/config");
    expect(config.scsi0).toBe("local-lvm:vm-600-disk-1,size=16G");
    expect(config.unused0).toBe("local-lvm:vm-600-disk-0");
    await data(double, "PUT", "nodes/pve02/qemu/600/config", { delete: "unused0" });
    config = await data(double, "GET", "nodes/pve02/qemu/600/config");
    expect(config.unused0).toBeUndefined();
    const vols = await data(double, "GET", "nodes/pve02/storage/local-lvm/content", { vmid: 600 });
    expect(vols.map((v: { volid: string }) => v.volid).sort()).toEqual([
      "local-lvm:vm-600-cloudinit",
      "local-lvm:vm-600-disk-1",
    ]);
  });

  it("converts a VM to a template with base- volumes, which cannot be started", async () => {
    await waitTask(double, await data(double, "POST", "nodes/pve02/qemu/600/template"));
    const config = await data(double, "GET", "nodes/pve02/qemu/600/config");
    expect(config.template).toBe(1);
    expect(config.scsi0).toBe("local-lvm:base-600-disk-1,size=16G");
    const start = await data(double, "POST", "nodes/pve02/qemu/600/status/start");
    expect((await waitTask(double, start)).exitstatus).toBe(
      "you can't start a vm if it's a template",
    );
  });

  it("makes linked clones of templates only, on the template's storage", async () => {
    const withStorage = await api(double, "POST", "nodes/pve02/qemu/600/clone", {
      newid: 601,
      full: 0,
      storage: "local-zfs",
    });
    expect(withStorage.statusMessage).toBe("parameter 'storage' not allowed for linked clones");
    expect(await cloneLinked(double, 600, 601)).toMatchObject({ exitstatus: "OK" });
    expect((await data(double, "GET", "nodes/pve02/qemu/601/config")).scsi0).toBe(
      "local-lvm:base-600-disk-1/vm-601-disk-0,size=16G",
    );
    const fromVm = await api(double, "POST", "nodes/pve02/qemu/601/clone", { newid: 602, full: 0 });
    expect(fromVm.status).toBe(500);
  });
});

async function cloneLinked(double: ProxmoxDouble, src: number, newid: number) {
  return waitTask(double, await data(double, "POST", `nodes/pve02/qemu/${src}/clone`, { newid }));
}
