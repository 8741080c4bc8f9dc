/**
 * The add-ons part of `npm run demo`, loaded only when the test cluster's control plane is
 * built and the pinned charts are at hand: the example's add-ons (those of
 * {@link DEMO_ADDONS}) installed by the addons stack onto a test cluster shaped like the
 * example's cluster, from the charts served as a chart repository on loopback (the
 * air-gapped mirror path), and what runs where read back from the API.
 *
 * Kubespray runs in print mode in the demo, so what its run leaves in the cluster is made
 * here in its place: the Nodes it registers (test-cluster/nodes.ts) and its admin.conf in the
 * inventory's artifacts/. The runner's `record` then exports that kubeconfig as after any
 * Kubespray run, with the test cluster's server in place of the VIP (`KSPRAY_VIP_SERVER`),
 * and the addons stack reads it from there, as on a real deploy.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";

import type { ClusterConfig } from "../config/schema";
import { kubeconfigReader } from "../lib/cluster-reader";
import { statePaths } from "../lib/kubespray/record";
import { ChartRepository } from "../test-cluster/chart-repository";
import { DefinitionCluster } from "../test-cluster/definition-cluster";
import { registerKubesprayNodes } from "../test-cluster/nodes";
import { waitUntil } from "../test-cluster/processes";

/**
 * The add-ons of the bundled example that the demo installs (its `addons` keys): the chain
 * to a reachable ingress (MetalLB, its pools, Traefik holding the example's address),
 * cert-manager and its Vault issuer, and the storage (the snapshot controller and a
 * democratic-csi release per TrueNAS backend), whose node plugins run on the workers only
 * while MetalLB's speakers run on every node. They add about 30 s to the demo on two busy
 * cores (78 s against 47 s). The example's others install too (the add-ons e2e installs them
 * all), but with all of them the demo took 125 s at the same load: ArgoCD waits for the
 * ingress and cert-manager and took 21 s after them, kube-prometheus-stack 41 s (the largest
 * CRDs), external-secrets 21 s.
 */
export const DEMO_ADDONS = ["metallb", "ingress", "certManager", "storage"] as const;

export class DemoAddons {
  private cluster: Promise<DefinitionCluster> | undefined;
  private stopped = false;

  private constructor(
    readonly repository: ChartRepository,
    /** The folder of chart archives it serves. */
    readonly chartsDir: string,
    private readonly controlPlaneDir: string,
  ) {}

  /** Serves the charts of `chartsDir` on loopback; the test cluster comes later. */
  static async start(where: {
    readonly chartsDir: string;
    readonly controlPlaneDir: string;
  }): Promise<DemoAddons> {
    const repository = await ChartRepository.start(where.chartsDir);
    return new DemoAddons(repository, where.chartsDir, where.controlPlaneDir);
  }

  /**
   * The example's `addons` reduced to {@link DEMO_ADDONS}, every chart taken from the
   * loopback repository.
   */
  addons(example: { addons?: Record<string, unknown> }): Record<string, unknown> {
    const picked = Object.fromEntries(
      DEMO_ADDONS.filter((k) => example.addons?.[k] !== undefined).map((k) => [
        k,
        example.addons?.[k],
      ]),
    );
    return this.repository.mirror({ addons: picked }).addons ?? {};
  }

  /** Starts a test cluster shaped like `config`'s (it starts while the VMs are deployed). */
  startCluster(config: ClusterConfig): void {
    this.cluster = DefinitionCluster.start(config, { controlPlaneDir: this.controlPlaneDir });
    // Awaited in kubesprayRan(); a failure before then must not end the process unhandled.
    this.cluster.catch(() => undefined);
  }

  /**
   * What Kubespray's run leaves once the cluster is built: the test cluster's Nodes and
   * its admin.conf in the inventory's artifacts/. Returns the Nodes registered and the
   * server to name in place of the VIP.
   */
  async kubesprayRan(
    config: ClusterConfig,
    stateDir: string,
  ): Promise<{ nodes: string[]; server: string; version: string }> {
    if (this.cluster === undefined) throw new Error("startCluster() was not called");
    const { cluster } = await this.cluster;
    const nodes = await registerKubesprayNodes(cluster.kubeConfig, config);
    const adminConf = statePaths(stateDir).adminConf;
    mkdirSync(dirname(adminConf), { recursive: true, mode: 0o700 });
    writeFileSync(adminConf, cluster.kubeconfig, { mode: 0o600 });
    return { nodes, server: cluster.server, version: cluster.version };
  }

  /**
   * The add-ons as the cluster has them, through `kubeconfig` (the one the cluster stack
   * exported): each release, then each node's workloads, once every pod runs (or after
   * 60 s, with what does not).
   */
  async show(kubeconfig: string, say: (line: string) => void): Promise<void> {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    // What does not run by then is shown where it is (or under "(no node)").
    await waitUntil(
      "every add-on pod running",
      async () => {
        const pods = (await core.listPodForAllNamespaces()).items;
        return pods.every((p) => ["Running", "Succeeded"].includes(p.status?.phase ?? ""));
      },
      Date.now() + 60_000,
      [],
    ).catch(() => undefined);
    const reader = await kubeconfigReader(kubeconfig);
    const releases = await reader.helmReleases();
    say(`    Helm releases in the cluster (${releases.length}):`);
    const width = Math.max(...releases.map((r) => `${r.namespace}/${r.name}`.length));
    for (const r of releases)
      say(
        `      ${`${r.namespace}/${r.name}`.padEnd(width)}  ${r.chart} ${r.version}  ${r.status}`,
      );
    const services = (await core.listServiceForAllNamespaces()).items.filter(
      (svc) => svc.spec?.type === "LoadBalancer",
    );
    for (const svc of services) {
      const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).join(", ");
      say(
        `    LoadBalancer ${svc.metadata?.namespace}/${svc.metadata?.name}: ${ips || "no address"} (MetalLB's controller, played)`,
      );
    }
    const placed = await reader.workloadsByNode();
    say("    what runs where (each node's add-on pods, by workload):");
    const nodeWidth = Math.max(...placed.map((p) => p.node.length));
    for (const p of placed)
      say(`      ${p.node.padEnd(nodeWidth)}  ${p.workloads.join(", ") || "-"}`);
  }

  /** The Helm releases `kubeconfig`'s cluster still holds. */
  async releasesLeft(kubeconfig: string): Promise<number> {
    return (await (await kubeconfigReader(kubeconfig)).helmReleases()).length;
  }

  /** Stops the test cluster (and its plays) and the chart repository; again, nothing. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const cluster = await this.cluster?.catch(() => undefined);
    await cluster?.stop();
    await this.repository.stop();
  }
}
