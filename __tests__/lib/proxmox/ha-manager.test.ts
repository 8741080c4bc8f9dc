/**
 * The wait for Proxmox's HA manager against the double: a cluster where HA was never used
 * lists no host until an HA resource exists and the manager has had a round.
 */
import { UserError } from "../../../errors/user-error";
import { unlistedHosts, waitForHaManager } from "../../../lib/proxmox/ha-manager";
import type { ProxmoxApi } from "../../../preflight/proxmox-api";
import { ProxmoxHttpsClient } from "../../../preflight/proxmox-api";
import { ProxmoxDouble } from "../../../proxmox-double";

jest.setTimeout(30_000);

describe("waitForHaManager", () => {
  let double: ProxmoxDouble;
  let api: ProxmoxApi;
  beforeAll(async () => {
    double = await ProxmoxDouble.start({
      taskDurationMs: 20,
      haRoundMs: 300,
      seed: {
        nodes: [{ name: "pve01" }, { name: "pve02" }],
        storages: [{ id: "local-lvm", type: "lvmthin" }],
        vms: [{ vmid: 100, node: "pve01", config: { scsi0: "local-lvm:vm-100-disk-0,size=1G" } }],
      },
    });
    api = new ProxmoxHttpsClient({
      endpoint: double.endpoint,
      token: double.token,
      insecure: true,
    });
  });
  afterAll(() => double.stop());

  it("times out on an idle HA manager, naming the hosts it does not list", async () => {
    expect(await unlistedHosts(api, ["pve01", "pve02"])).toEqual(["pve01", "pve02"]);
    const waited = waitForHaManager(api, ["pve01", "pve02"], { timeoutMs: 400, intervalMs: 100 });
    await expect(waited).rejects.toThrow(UserError);
    await expect(waited).rejects.toThrow(
      /^proxmox\.ha\.enabled: Proxmox's HA manager does not list pve01, pve02 after 0 s .*; check that pve-ha-crm/,
    );
  });

  it("returns once the manager, active after the first resource, lists every host", async () => {
    await api.post("/cluster/ha/resources", { sid: "vm:100", state: "stopped" });
    const started = Date.now();
    await waitForHaManager(api, ["pve01", "pve02"], { timeoutMs: 5000, intervalMs: 50 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(await unlistedHosts(api, ["pve01", "pve02"])).toEqual([]);
  });
});
