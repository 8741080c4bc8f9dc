import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

import { ProxmoxDouble } from "../../proxmox-double";
import { API_SCHEMA_FILE, ApiSchema } from "../../proxmox-double/api-schema";
import { trimApiSchema } from "../../proxmox-double/write-api-schema";

import { api } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

const SHARED_SCHEMA = resolve(__dirname, "..", "..", "..", "shared", "proxmox", "api-schema.json");
const FAST = { cloneDurationMs: 50, taskDurationMs: 20, agentDelayMs: 50 } as const;

describe("proxmox double: its API description", () => {
  (existsSync(SHARED_SCHEMA) ? it : it.skip)(
    "is the shared description, trimmed (regenerate with write-api-schema.ts)",
    () => {
      const full = JSON.parse(readFileSync(SHARED_SCHEMA, "utf8"));
      expect(JSON.parse(readFileSync(API_SCHEMA_FILE, "utf8"))).toEqual(trimApiSchema(full));
    },
  );

  it("describes every endpoint the provider's VM lifecycle uses", () => {
    const schema = ApiSchema.load();
    for (const [method, path] of [
      ["POST", "/nodes/pve01/qemu/9000/clone"],
      ["PUT", "/nodes/pve01/qemu/100/config"],
      ["POST", "/nodes/pve01/qemu/100/config"],
      ["PUT", "/nodes/pve01/qemu/100/resize"],
      ["POST", "/nodes/pve01/qemu/100/move_disk"],
      ["POST", "/nodes/pve01/qemu/100/migrate"],
      ["POST", "/nodes/pve01/qemu/100/status/start"],
      ["DELETE", "/nodes/pve01/qemu/100"],
      ["GET", "/nodes/pve01/qemu/100/agent/network-get-interfaces"],
      ["GET", "/nodes/pve01/storage/local-lvm/content/local-lvm%3Avm-100-disk-0"],
      ["GET", "/nodes/pve01/tasks/UPID%3Apve01%3A1/status"],
      ["GET", "/cluster/nextid"],
    ]) {
      expect([method, path, schema.endpoint(method, path)?.template]).toEqual([
        method,
        path,
        expect.any(String),
      ]);
    }
  });
});

describe("proxmox double: parameter verification before any handler", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    double = await ProxmoxDouble.start(FAST);
  });
  afterAll(() => double.stop());

  /** PUT config on the template (never reached: verification comes first). */
  const put = (params: Record<string, string>) =>
    api(double, "PUT", "nodes/pve01/qemu/9000/config", params);

  it.each([
    ["cores=0", { cores: "0" }, "cores", "value must have a minimum value of 1"],
    ["cores=two", { cores: "two" }, "cores", "type check ('integer') failed - got 'two'"],
    [
      "memory=8",
      { memory: "8" },
      "memory",
      "memory.current: value must have a minimum value of 16",
    ],
    [
      "bios=uefi",
      { bios: "uefi" },
      "bios",
      "value 'uefi' does not have a value in the enumeration 'seabios, ovmf'",
    ],
    ["onboot=true", { onboot: "true" }, "onboot", "type check ('boolean') failed - got 'true'"],
    [
      "discard=yes in scsi0",
      { scsi0: "local-lvm:vm-9000-disk-0,discard=yes" },
      "scsi0",
      "scsi0.discard: value 'yes' does not have a value in the enumeration 'ignore, on'",
    ],
    [
      "an unknown sub-key of scsi0",
      { scsi0: "local-lvm:vm-9000-disk-0,turbo=1" },
      "scsi0",
      "invalid key in comma-separated list property: turbo",
    ],
    [
      "an unknown sub-key of net0",
      { net0: "virtio,bridge=vmbr0,vlan=30" },
      "net0",
      "invalid key in comma-separated list property: vlan",
    ],
    [
      "a multicast MAC",
      { net0: "virtio=01:24:11:00:00:01,bridge=vmbr0" },
      "net0",
      "net0.macaddr: invalid format - value does not look like a valid unicast MAC address",
    ],
    [
      "a VLAN tag of 0",
      { net0: "virtio,bridge=vmbr0,tag=0" },
      "net0",
      "net0.tag: value must have a minimum value of 1",
    ],
    [
      "an unknown sub-key of hostpci0",
      { hostpci0: "mapping=rtx-a6000,pcie=1,gpu=1" },
      "hostpci0",
      "invalid key in comma-separated list property: gpu",
    ],
    [
      "hostpci0 with neither host nor mapping",
      { hostpci0: "pcie=1" },
      "hostpci0",
      "either 'host' or 'mapping' must be set.",
    ],
    [
      "ip=…/99",
      { ipconfig0: "ip=10.10.30.21/99,gw=10.10.30.1" },
      "ipconfig0",
      "ipconfig0.ip: invalid format - value does not look like a valid IPv4 config",
    ],
    [
      "gw without ip",
      { ipconfig0: "gw=10.10.30.1" },
      "ipconfig0",
      "gateway specified without specifying an IP address",
    ],
    [
      "an unknown CPU model",
      { cpu: "x86-64-v9" },
      "cpu",
      "Built-in cputype 'x86-64-v9' is not defined (missing 'custom-' prefix?)",
    ],
    ["a tag with a bad character", { tags: "a;b@c" }, "tags", "invalid tag 'b@c'"],
    ["bootdisk net0", { bootdisk: "net0" }, "bootdisk", "value does not match the regex pattern"],
    [
      "an unknown watchdog model",
      { watchdog: "model=i6400" },
      "watchdog",
      "watchdog.model: value 'i6400' does not have a value in the enumeration",
    ],
    [
      "cicustom with a path, not a volume",
      { cicustom: "user=/tmp/user.yaml" },
      "cicustom",
      "cicustom.user: invalid format - unable to parse volume ID '/tmp/user.yaml'",
    ],
    ["a bad DNS name", { name: "node_1" }, "name", "value does not look like a valid DNS name"],
    [
      "an unknown option",
      { turbo: "1" },
      "turbo",
      "property is not defined in schema and the schema does not allow additional properties",
    ],
    [
      "scsi31 (scsi0-30 exist)",
      { scsi31: "local-lvm:1" },
      "scsi31",
      "property is not defined in schema and the schema does not allow additional properties",
    ],
  ])("refuses %s with 400 naming the parameter", async (_what, params, param, message) => {
    const res = await put(params);
    expect(res.status).toBe(400);
    expect(res.statusMessage).toBe("Parameter verification failed.");
    expect(res.body.data).toBeNull();
    expect(Object.keys(res.body.errors)).toEqual([param]);
    expect(res.body.errors[param]).toContain(message);
  });

  it("verifies path and query parameters too", async () => {
    const badNode = await api(double, "GET", "nodes/pve_01/qemu");
    expect(badNode.status).toBe(400);
    expect(badNode.body.errors.node).toContain("invalid format");
    const badVmid = await api(double, "GET", "nodes/pve01/qemu/99/config");
    expect(badVmid.body.errors).toEqual({ vmid: "value must have a minimum value of 100" });
    const badType = await api(double, "GET", "cluster/resources", { type: "vms" });
    expect(badType.body.errors.type).toContain("enumeration 'vm, storage, node, sdn'");
  });

  it("names a missing required parameter", async () => {
    const res = await api(double, "POST", "nodes/pve01/qemu/9000/clone", { full: 1 });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual({ newid: "property is missing and it is not optional" });
  });

  it("reports every failing parameter at once", async () => {
    const res = await put({ cores: "0", bios: "uefi" });
    expect(Object.keys(res.body.errors).sort()).toEqual(["bios", "cores"]);
  });

  it("accepts what real Proxmox accepts: aliases, default keys, property-string booleans", async () => {
    await api(double, "POST", "nodes/pve01/qemu/9000/clone", { newid: 300, full: 1 });
    const res = await api(double, "PUT", "nodes/pve01/qemu/9000/config", {
      onboot: "1",
      cores: "4",
      memory: "current=4096",
      cpu: "cputype=x86-64-v2-AES,flags=+aes;-pcid",
      net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=true,tag=30",
      ipconfig0: "ip=10.10.30.21/24,gw=10.10.30.1",
      agent: "enabled=1,fstrim_cloned_disks=0,type=virtio",
      tags: "homelab;kspray",
      description: "a node",
    });
    // The handler ran (a template is not locked, so the update goes through).
    expect(res.body.errors).toBeUndefined();
    expect(res.status).toBe(200);
  });
});
