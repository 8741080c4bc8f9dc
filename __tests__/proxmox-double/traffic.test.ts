/**
 * The e2e harness's check of the provider's traffic (`trafficViolations()`, run by every
 * environment's `stop()`): it must name a request real Proxmox would refuse.
 */
import { ProxmoxDouble } from "../../proxmox-double";
import { E2eEnvironment } from "../e2e/support/harness";
import { homelab } from "../fixtures/definitions";

import { api } from "./api";

// It talks to the Proxmox VE double over loopback: a budget for a loaded two-core machine.
jest.setTimeout(60_000);

describe("e2e harness: the provider's traffic against Proxmox's API description", () => {
  it("names each refused request and its parameter, and fails stop() with them", async () => {
    const double = await ProxmoxDouble.start({ taskDurationMs: 20 });
    const env = new E2eEnvironment(double, homelab(), "homelab.yaml", {});
    await api(double, "GET", "nodes/pve01/qemu/9000/config");
    expect(env.trafficViolations()).toEqual([]);
    await api(double, "PUT", "nodes/pve01/qemu/9000/config", { onboot: "true" });
    expect(env.trafficViolations()).toEqual([
      "PUT /nodes/pve01/qemu/9000/config: answered 400",
      "PUT /nodes/pve01/qemu/9000/config: onboot: type check ('boolean') failed - got 'true'",
    ]);
    await expect(env.stop()).rejects.toThrow(
      /the provider sent 2 request\(s\) Proxmox VE would refuse/,
    );
  });
});
