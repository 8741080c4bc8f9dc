/**
 * `proxmox.ha` and `proxmox.snapshots` in the definition: their defaults, and the rules
 * of config/rules/ha.ts, each "rejects ..." naming the field.
 */
import { expandNodes } from "../../../config/nodes";
import { validateConfig } from "../../../config/validate";
import { haAffinityGroups } from "../../../lib/proxmox/ha";
import { accept, expectProblem, homelab, homelabProblems } from "../../fixtures/definitions";

describe("proxmox.ha and proxmox.snapshots", () => {
  it("default to HA off and snapshots on, keeping two", () => {
    const { config } = accept(homelab());
    expect(config.proxmox.ha).toEqual({ enabled: false, keepApart: [] });
    expect(config.proxmox.snapshots).toEqual({ enabled: true, keep: 2 });
  });

  it("keep the three control-plane nodes apart, and a pool that asks", () => {
    const d = homelab();
    d.proxmox.ha = { enabled: true, keepApart: ["worker"] };
    const { config } = accept(d);
    expect(validateConfig(config)).toEqual({ errors: [], warnings: [] });
    expect(
      haAffinityGroups(config, expandNodes(config)).map((g) => [
        g.ruleId,
        g.nodes.map((n) => n.vmId),
      ]),
    ).toEqual([
      ["kspray-control-plane-apart", [4100, 4101, 4102]],
      ["kspray-pool-worker-apart", [4200, 4201, 4202]],
    ]);
  });

  it("make no rule for a single control-plane node", () => {
    const d = homelab();
    d.proxmox.ha = { enabled: true };
    d.nodePools[0].count = 1;
    const { config } = accept(d);
    expect(haAffinityGroups(config, expandNodes(config))).toEqual([]);
  });

  it("rejects a pool that keepApart names but the definition does not have", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.ha = { enabled: true, keepApart: ["ingress"] })),
      "proxmox.ha.keepApart[0]",
      'no node pool "ingress"',
      "cp, worker",
    );
  });

  it("rejects a pool listed twice, and a control-plane pool", () => {
    const lines = homelabProblems(
      (d) => (d.proxmox.ha = { enabled: true, keepApart: ["worker", "worker", "cp"] }),
    );
    expectProblem(lines, "proxmox.ha.keepApart[1]", '"worker" is listed twice');
    expectProblem(lines, "proxmox.ha.keepApart[2]", "control-plane pool", "remove it");
  });

  it("rejects control-plane nodes that the placement puts on one host", () => {
    expectProblem(
      homelabProblems((d) => {
        d.proxmox.ha = { enabled: true };
        d.proxmox.hosts = ["pve01", "pve02"];
      }),
      "proxmox.ha.enabled",
      "kspray-cp-1 and kspray-cp-3 are all placed on pve01",
      "spread them over more hosts",
    );
  });

  it("rejects a kept-apart pool with more nodes than its hosts", () => {
    expectProblem(
      homelabProblems((d) => {
        d.proxmox.ha = { enabled: true, keepApart: ["worker"] };
        d.nodePools[1].hosts = ["pve01", "pve02"];
      }),
      "proxmox.ha.keepApart[0]",
      "pool worker kspray-worker-1 and kspray-worker-3 are all placed on pve02",
    );
  });

  it("warns that keepApart does nothing with HA off, and that one host has nowhere to fail over", () => {
    const d = homelab();
    d.proxmox.ha = { keepApart: ["worker"] };
    expect(validateConfig(accept(d).config).warnings).toEqual([
      {
        path: "proxmox.ha.keepApart",
        message:
          "has no effect while proxmox.ha.enabled is false; set enabled: true, or remove keepApart",
      },
    ]);
    const one = homelab();
    one.proxmox.hosts = ["pve01"];
    one.proxmox.ha = { enabled: true };
    one.nodePools[0].count = 1;
    expect(validateConfig(accept(one).config).warnings.map((w) => w.path)).toEqual([
      "proxmox.ha.enabled",
    ]);
  });

  it("rejects keeping no snapshot at all, and a bare false", () => {
    expectProblem(
      homelabProblems((d) => (d.proxmox.snapshots = { keep: 0 })),
      "proxmox.snapshots.keep",
      "0 is below the minimum of 1",
    );
    expectProblem(
      homelabProblems((d) => (d.proxmox.snapshots = false)),
      "proxmox.snapshots",
      "expected a mapping",
    );
    const d = homelab();
    d.proxmox.snapshots = { enabled: false };
    expect(accept(d).config.proxmox.snapshots).toEqual({ enabled: false, keep: 2 });
  });
});
