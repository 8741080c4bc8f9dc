import { expandNodes } from "../../../config/nodes";
import type { NodeSpec } from "../../../config/nodes";
import type { ClusterConfig } from "../../../config/schema";
import { UserError } from "../../../errors/user-error";
import { kubesprayHost } from "../../../kubespray-vars/host-fields";
import { resolvedSettings } from "../../../lib/kubespray/commands";
import type { RunRecord } from "../../../lib/kubespray/playbooks";
import { runnerInputs } from "../../../lib/kubespray/runner-inputs";
import { accept, cloud, homelab } from "../../fixtures/definitions";

const home = accept(homelab()).config;
const OPTIONS = { stateDir: "/state/kspray", baseDir: "/work" };

/** The nodes, each at its static address or at `address(node)`. */
const withAddresses = (config: ClusterConfig, address?: (n: NodeSpec) => string) =>
  expandNodes(config).map((n) => ({ ...n, ipv4: address?.(n) ?? n.staticIp ?? "" }));

/** The record a successful run of `config` leaves. */
function recordOf(config: ClusterConfig, action = "cluster.yml"): RunRecord {
  const nodes = withAddresses(config);
  const plan = runnerInputs(config, nodes, undefined, OPTIONS);
  return {
    kubesprayVersion: plan.settings.kubesprayVersion,
    hosts: nodes.map(kubesprayHost),
    controlPlaneOrder: Object.keys(plan.inventory.all.children.kube_control_plane.hosts),
    vars: plan.groupVars,
    action,
    completedAt: "2026-01-01T00:00:00Z",
  };
}

const resize = (config: ClusterConfig, pool: string, count: number): ClusterConfig => ({
  ...config,
  nodePools: config.nodePools.map((p) => (p.name === pool ? { ...p, count } : p)),
});

describe("runnerInputs", () => {
  it("writes portable runner settings relative to the state directory, resolved back by the runner", () => {
    const config: ClusterConfig = {
      ...home,
      kubespray: { ...home.kubespray, dir: ".kubespray/v2.31.0", venv: "/opt/ansible" },
    };
    const nodes = withAddresses(config);
    const absolute = runnerInputs(config, nodes, undefined, OPTIONS).settings;
    const portable = runnerInputs(config, nodes, undefined, {
      ...OPTIONS,
      portablePaths: true,
    }).settings;
    expect(portable.stateDir).toBe(".");
    expect(portable.kubesprayDir).toBe("../../work/.kubespray/v2.31.0");
    expect(portable.venv).toBe("/opt/ansible"); // given absolute: kept
    expect(portable.nodePrep.playbook).not.toMatch(/^\//);
    expect(resolvedSettings(portable, "/state/kspray")).toEqual(absolute);
    expect(resolvedSettings(absolute, "/elsewhere")).toEqual(absolute);
  });

  it("plans cluster.yml without a record", () => {
    expect(runnerInputs(home, withAddresses(home), undefined, OPTIONS).action).toBe("cluster.yml");
  });

  it("plans facts and scale.yml for one added worker", () => {
    const bigger = resize(home, "worker", 4);
    expect(runnerInputs(bigger, withAddresses(bigger), recordOf(home), OPTIONS).action).toBe(
      "playbooks/facts.yml; scale.yml --limit=kspray-worker-4",
    );
  });

  it("keeps the recorded action when nothing changed", () => {
    const record = recordOf(home, "earlier");
    expect(runnerInputs(home, withAddresses(home), record, OPTIONS).action).toBe("earlier");
  });

  it("refuses a skipped minor version as a UserError on kubernetes.version", () => {
    const old = { ...home, kubernetes: { ...home.kubernetes, version: "1.33.2" } };
    const plan = () => runnerInputs(home, withAddresses(home), recordOf(old), OPTIONS);
    expect(plan).toThrow(UserError);
    expect(plan).toThrow(/kubernetes\.version: .* skips a minor version/);
  });

  it("leaves token addresses out of the comparison, but compares literal ones", () => {
    const config = accept(cloud()).config;
    const recorded = (address: string) => ({
      ...recordOf(config, "recorded"),
      hosts: recordOf(config).hosts.map((h) => ({ ...h, address })),
    });
    const tokens = withAddresses(config, () => "${TfToken[TOKEN.1]}");
    expect(runnerInputs(config, tokens, recorded("10.20.0.11"), OPTIONS).action).toBe("recorded");
    const moved = withAddresses(config, () => "10.20.0.99");
    expect(runnerInputs(config, moved, recorded("10.20.0.11"), OPTIONS).action).toBe("cluster.yml");
  });

  it("keeps the control-plane order of the record, new ones last", () => {
    const record = { ...recordOf(home), controlPlaneOrder: ["kspray-cp-3", "kspray-cp-1"] };
    const { inventory } = runnerInputs(home, withAddresses(home), record, OPTIONS);
    expect(Object.keys(inventory.all.children.kube_control_plane.hosts)).toEqual([
      "kspray-cp-3",
      "kspray-cp-1",
      "kspray-cp-2",
    ]);
  });

  it("writes the runner settings: paths from baseDir, ~ kept, node prep by storage protocol", () => {
    const relative = {
      ...home,
      kubespray: { ...home.kubespray, dir: "kubespray", venv: "~/venv" },
    };
    const { settings } = runnerInputs(relative, withAddresses(relative), undefined, OPTIONS);
    expect(settings).toMatchObject({
      clusterName: "kspray",
      stateDir: "/state/kspray",
      kubesprayDir: "/work/kubespray",
      venv: "~/venv",
      kubesprayVersion: "v2.31.0",
      containerImage: "quay.io/kubespray/kubespray:v2.31.0",
      nodePrep: { iscsi: true, nfs: true },
    });
    const nfsOnly = {
      ...home,
      addons: {
        ...home.addons,
        storage: {
          ...home.addons.storage!,
          democraticCsi: home.addons.storage!.democraticCsi.filter((b) => b.driver.includes("nfs")),
        },
      },
    };
    expect(
      runnerInputs(nfsOnly, withAddresses(nfsOnly), undefined, OPTIONS).settings.nodePrep,
    ).toMatchObject({ iscsi: false, nfs: true });
  });
});
