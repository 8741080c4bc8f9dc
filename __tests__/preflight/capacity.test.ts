/**
 * Preflight's capacity check (preflight/capacity.ts, lib/capacity/): every release of the
 * addons stack rendered by the real helm CLI from the pinned chart archives
 * (`UPSTREAM_CHARTS`, default ../shared/charts), the requests of what it runs placed on
 * the Nodes Kubespray registers for the definition, after its kubelet reservations.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parseClusterConfig } from "../../config/load";
import { formatIssue } from "../../errors/user-error";
import type { CapacityCheck } from "../../preflight/capacity";
import { capacityRenderOptions, checkCapacity } from "../../preflight/capacity";
import type { Definition } from "../fixtures/definitions";
import { cloud, everyOption, EXAMPLES, homelab } from "../fixtures/definitions";
import { UPSTREAM_CHARTS } from "../support/helm";
import { describeWithToolchain, REPO_ROOT, toolchainEnv } from "../support/toolchain";

// It renders charts with the real helm: a render took 67 s on a loaded two-core machine.
jest.setTimeout(180_000);

/** A render of every chart of a definition, on 2 busy cores. */
const RENDER_MS = 180_000;

const check = (def: Definition, chartsDir = UPSTREAM_CHARTS): Promise<CapacityCheck> =>
  checkCapacity(parseClusterConfig(def).config, {
    ...capacityRenderOptions(toolchainEnv(), EXAMPLES),
    chartsDir,
  });

const Mi = 2 ** 20;

describeWithToolchain(["helm"])("preflight's capacity check, from the rendered charts", () => {
  it(
    "finds the homelab example's add-ons fit, with what they request placed on the workers",
    async () => {
      const { problems, report } = await check(homelab());
      expect(problems).toEqual([]);
      // kube-prometheus-stack's Alertmanager: the operator's 200Mi default (the chart sets no
      // resources), counted as the operator makes the pod, on a worker, not a control plane.
      const am = report!.workloads.find((w) => w.kind === "Alertmanager")!;
      expect(am.pod.requests.memoryBytes).toBe(200 * Mi);
      const holder = [...report!.placement.placed].find(([, ws]) => ws.includes(am))?.[0];
      expect(holder).toMatch(/-worker-\d$/);
      expect(report!.placement.requested.get(holder!)!.memoryBytes).toBeGreaterThanOrEqual(
        200 * Mi,
      );
      // Every release of the stack was read, the charts' test hooks left out.
      expect(new Set(report!.workloads.map((w) => w.release))).toEqual(
        new Set([
          "metallb",
          "traefik",
          "cert-manager",
          "snapshot-controller",
          "truenas-nfs",
          "truenas-iscsi",
          "argocd",
          "external-secrets",
          "kube-prometheus-stack",
        ]),
      );
    },
    RENDER_MS,
  );

  it(
    "names the pool, the add-on and the field when the workers are too small",
    async () => {
      const def = homelab();
      // 1 GiB: 156Mi left for pods after Kubespray's reservations (256Mi + 512Mi) and the
      // kubelet's 100Mi eviction threshold; the Alertmanager asks for 200Mi.
      def.nodePools[1].memoryMiB = 1024;
      const { problems } = await check(def);
      expect(problems.map(formatIssue)).toEqual([
        "nodePools[1].memoryMiB: the add-ons do not fit pool worker: 1 pod of kube-prometheus-stack's " +
          "Alertmanager kube-prometheus-stack-alertmanager (0 CPU, 200Mi memory each) would stay " +
          "Pending (Insufficient memory); pool worker: 3 nodes of 8 cores / 1Gi, each 7400m CPU, " +
          "156Mi memory for pods after Kubespray's kubelet reservations, of which the add-ons' pods " +
          "placed there request 0 CPU, 0Mi memory in all; give pool worker nodePools[1].memoryMiB " +
          "more room, or turn kube-prometheus-stack off (addons.monitoring.kubePrometheusStack)",
      ]);
    },
    RENDER_MS,
  );

  it(
    "puts a DaemonSet's pod on every node whose taints it tolerates and whose labels it selects",
    async () => {
      const { problems, report } = await check(cloud());
      expect(problems).toEqual([]);
      const on = (name: string) =>
        [...report!.placement.placed]
          .filter(([, ws]) => ws.some((w) => w.name === name))
          .map(([node]) => node)
          .sort();
      // The GPU pool's nvidia.com/gpu=present:NoSchedule keeps MetalLB's speaker off it...
      expect(on("metallb-speaker")).toEqual(["cloud-controller-1", "cloud-cpu-worker-1"]);
      // ...and NFD's worker, which tolerates it and selects the GPU pool, runs there only.
      expect(on("gpu-operator-node-feature-discovery-worker")).toEqual(["cloud-gpu-worker-1"]);
      // What the GPU Operator starts itself is listed, not silently left out.
      expect(report!.uncounted.map((u) => `${u.release} ${u.kind}`)).toEqual([
        "gpu-operator ClusterPolicy",
      ]);
    },
    RENDER_MS,
  );

  it("says what it did not check when a chart archive is not there", async () => {
    const empty = mkdtempSync(join(tmpdir(), "no-charts-"));
    try {
      const { problems, report } = await check(homelab(), empty);
      expect(report).toBeUndefined();
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ path: "addons", warning: true });
      expect(problems[0].message).toContain(
        `the add-ons' resource requests were not checked against the nodes: ${empty} does not hold ` +
          "argo-cd-10.1.1.tgz, argocd-apps-2.0.5.tgz, cert-manager-v1.21.1.tgz, democratic-csi-0.15.1.tgz, " +
          "external-secrets-2.9.0.tgz, traefik-41.3.0.tgz, kube-prometheus-stack-88.5.3.tgz, " +
          "metallb-0.16.1.tgz, snapshot-controller-5.2.0.tgz",
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("says what it did not check when a file the definition names is not there", async () => {
    const def = everyOption();
    def.addons.certManager.clusterIssuers[0].vault.caBundleFile = "no-such-ca.pem";
    const { problems } = await check(def);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: "addons", warning: true });
    expect(problems[0].message).toMatch(
      /not checked against the nodes: the addons stack cannot be synthesized: .*addons\.certManager\.clusterIssuers\[0\]\.vault\.caBundleFile.*no-such-ca\.pem/,
    );
  });

  it("says so when there is no helm CLI", async () => {
    const { problems } = await checkCapacity(parseClusterConfig(homelab()).config, {
      ...capacityRenderOptions(toolchainEnv(), EXAMPLES),
      helm: join(REPO_ROOT, "no-such-helm"),
    });
    expect(problems.map((p) => p.message.split("; ")[0])).toEqual([
      `the add-ons' resource requests were not checked against the nodes: no helm CLI at ${join(REPO_ROOT, "no-such-helm")} (npm run toolchain builds it)`,
    ]);
  });
});
