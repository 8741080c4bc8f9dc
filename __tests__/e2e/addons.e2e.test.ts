/**
 * The add-ons installed into a real Kubernetes API shaped like the cluster: `cdktf deploy
 * vms cluster addons` of both reference examples and of a definition with every add-on
 * option, against the Proxmox VE double, the stand-in Kubespray (registering each VM as a
 * Node of a test cluster, with Kubespray's labels, taints and the VM's capacity) and the
 * test cluster (test-cluster/: the real control plane, kwok for the kubelets, MetalLB's and
 * the CSI provisioners' controllers played), with the real hashicorp/helm provider and
 * every chart from a chart repository on loopback (support/addons-rig.ts).
 *
 * Kubespray's PodSecurity default is on in two of them (`extraVars`, as Kubespray's
 * hardening guide sets it): `baseline` for homelab, `restricted` for every-option;
 * cloud-cluster is deployed exactly as the example is.
 *
 * Asserted with the API's answers, through the kubeconfig the cluster stack exported:
 * every release deployed with exactly the values the stack sets; every workload running;
 * each DaemonSet on exactly the nodes docs/addons.md promises; every object accepted under
 * strict field validation; the ingress address; no change left for `npm run diff`; a new
 * worker's Node and the DaemonSets following it; and nothing the addons stack made left
 * after its destroy.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";

import type { V1Pod } from "@kubernetes/client-node";
import { ApiextensionsV1Api, CoreV1Api } from "@kubernetes/client-node";
import { parse } from "yaml";

import { expandNodes } from "../../config/nodes";
import type { ClusterConfig } from "../../config/schema";
import type { Definition } from "../fixtures/definitions";
import { cloud, everyOption, homelab } from "../fixtures/definitions";
import { describeWithAnsible } from "../support/ansible";
import { compareValues, expectedValues } from "../support/release-values";
import type { SynthRelease } from "../support/releases";
import { releases } from "../support/releases";
import { describeWithControlPlane, eventually } from "../support/test-cluster";

import { AddonsRig } from "./support/addons-rig";
import {
  customResources,
  daemonSetNodes,
  strictDryRunProblems,
  workloadProblems,
} from "./support/cluster-checks";
import type { EnvironmentOptions } from "./support/harness";
import { describeE2e, expectSuccess, SEEDS } from "./support/harness";

/** Kubespray's PodSecurity default, as its hardening guide turns it on. */
function withPodSecurity(definition: Definition, enforce: "baseline" | "restricted"): Definition {
  definition.kubernetes.extraVars = {
    ...definition.kubernetes.extraVars,
    kube_apiserver_enable_admission_plugins: ["NodeRestriction", "PodSecurity"],
    kube_apiserver_admission_control_config_file: true,
    kube_pod_security_use_default: true,
    kube_pod_security_default_enforce: enforce,
  };
  return definition;
}

/** The homelab seed with the GPU mapping of every-option's GPU pool on each host. */
function everyOptionSeed(): Seed {
  const seed = parse(readFileSync(SEEDS.homelab, "utf8")) as Seed;
  seed.pciMappings = [
    {
      id: "rtx-a6000",
      description: "NVIDIA RTX A6000",
      map: ["pve01", "pve02", "pve03"].map((node, i) => ({
        node,
        path: `0000:4${i}:00.0`,
        id: "10de:2230",
        subsystemId: "10de:1459",
        iommugroup: 30 + i,
      })),
    },
  ];
  return seed;
}

type Seed = Exclude<EnvironmentOptions["seed"], string>;

interface Case {
  readonly name: string;
  readonly definition: () => Definition;
  readonly seed: () => EnvironmentOptions["seed"];
  /** The pool a worker is added to. */
  readonly workerPool: string;
  /** The ingress Service's address, when the definition fixes one; else a pool's first. */
  readonly ingressAddress: string;
}

const CASES: readonly Case[] = [
  {
    name: "homelab.yaml, PodSecurity baseline",
    definition: () => withPodSecurity(homelab(), "baseline"),
    seed: () => "homelab",
    workerPool: "worker",
    ingressAddress: "10.10.30.200",
  },
  {
    name: "cloud-cluster.yaml",
    definition: cloud,
    seed: () => "cloud",
    workerPool: "cpu-worker",
    // No loadBalancerIp: MetalLB's first free address of the auto-assigned pool.
    ingressAddress: "192.168.100.240",
  },
  {
    name: "every option, PodSecurity restricted",
    definition: () => withPodSecurity(everyOption(), "restricted"),
    seed: everyOptionSeed,
    workerPool: "worker",
    ingressAddress: "10.10.30.201",
  },
];

/**
 * The API groups whose CRDs Helm leaves after the destroy, as docs/addons.md says: shipped in
 * a chart's crds/ folder or marked to keep.
 */
const KEPT_CRD_GROUPS = [
  "acme.cert-manager.io",
  "argoproj.io",
  "cert-manager.io",
  "hub.traefik.io",
  "monitoring.coreos.com",
  "nfd.k8s-sigs.io",
  "nvidia.com",
  "resource.nvidia.com",
  "traefik.io",
];

/** The namespaces a cluster has before any add-on. */
const BASE_NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"];

/**
 * Where docs/addons.md ("Where the add-ons run") promises each DaemonSet's pods, from the
 * definition's pools: `namespace/name` -> node names.
 */
function promisedPlacement(config: ClusterConfig): Record<string, string[]> {
  const nodes = expandNodes(config);
  const pool = (name: string) => config.nodePools.find((p) => p.name === name)!;
  const on = (keep: (n: (typeof nodes)[number]) => boolean) =>
    nodes
      .filter(keep)
      .map((n) => n.name)
      .sort();
  const out: Record<string, string[]> = {};
  const a = config.addons;
  // Every node but those of pools with taints of their own (the control plane included).
  if (a.metallb)
    out["metallb-system/metallb-speaker"] = on((n) => pool(n.pool).taints.length === 0);
  // Every worker, tainted pools included: any workload may mount a volume.
  for (const b of a.storage?.democraticCsi ?? [])
    out[`democratic-csi/${b.name}-democratic-csi-node`] = on((n) => n.role === "worker");
  // Every node.
  if (a.monitoring?.kubePrometheusStack)
    out["monitoring/kube-prometheus-stack-prometheus-node-exporter"] = on(() => true);
  // The GPU pools only.
  if (a.gpuOperator?.enabled)
    out["gpu-operator/gpu-operator-node-feature-discovery-worker"] = on(
      (n) => pool(n.pool).gpu !== undefined,
    );
  return out;
}

/**
 * The namespaces whose pods use the host, which alone get PodSecurity's `privileged`
 * (docs/addons.md, "Namespaces and PodSecurity"): `namespace` -> its labels' levels.
 */
function privilegedNamespaces(config: ClusterConfig): Record<string, string> {
  const a = config.addons;
  const out: Record<string, string> = {};
  if (a.metallb) out["metallb-system"] = "enforce=privileged";
  if ((a.storage?.democraticCsi ?? []).length > 0) out["democratic-csi"] = "enforce=privileged";
  if (a.monitoring?.kubePrometheusStack) out.monitoring = "enforce=privileged";
  if (a.gpuOperator?.enabled) out["gpu-operator"] = "enforce=privileged";
  return out;
}

/** The untainted workers: where every pod not of a DaemonSet runs, but those below. */
function untaintedWorkers(config: ClusterConfig): string[] {
  const tainted = (pool: string) =>
    config.nodePools.find((p) => p.name === pool)!.taints.length > 0;
  return expandNodes(config)
    .filter((n) => n.role === "worker" && !tainted(n.pool))
    .map((n) => n.name);
}

/**
 * The Deployments (`namespace/name`) that may also run on the control plane, as
 * docs/addons.md says: the GPU Operator's chart gives its operator and Node Feature
 * Discovery's master the control plane's toleration and a preference for its nodes.
 */
const ON_CONTROL_PLANE_TOO = [
  "gpu-operator/gpu-operator",
  "gpu-operator/gpu-operator-node-feature-discovery-master",
];

/** The Deployment a pod belongs to (`namespace/name`), through its ReplicaSet's name. */
function deploymentOf(pod: V1Pod): string | undefined {
  const rs = pod.metadata?.ownerReferences?.find((o) => o.kind === "ReplicaSet");
  return rs && `${pod.metadata?.namespace}/${rs.name.replace(/-[a-z0-9]+$/, "")}`;
}

const DEPLOY_MS = 1_800_000;
const CHECK_MS = 300_000;

describeE2e("add-ons installed into a test cluster", () => {
  describeWithControlPlane("with the test cluster's control plane", () => {
    describeWithAnsible("with the stand-in Kubespray", () => {
      for (const c of CASES) {
        describe(c.name, () => {
          let rig: AddonsRig;
          const stack = () =>
            readFileSync(join(rig.rig.env.stackDir("addons"), "cdk.tf.json"), "utf8");
          const ours = (): SynthRelease[] => [...releases(stack()).values()];

          beforeAll(async () => {
            rig = await AddonsRig.start(c.definition(), c.seed());
          }, CHECK_MS);
          afterAll(async () => {
            await rig?.stop();
          }, CHECK_MS);

          it(
            "deploys vms, cluster and addons, the charts taken from the mirror on loopback",
            async () => {
              const t0 = Date.now();
              const { result, problems } = await rig.deploy(["vms", "cluster", "addons"]);
              process.stdout.write(
                `${c.name}: deploy vms cluster addons in ${Date.now() - t0} ms\n`,
              );
              expect({
                status: result.status,
                problems: problems.map((p) => `${p.about}: ${p.message}`),
                output: result.status === 0 ? "" : result.output.slice(-6000),
              }).toEqual({ status: 0, problems: [], output: "" });
              // Every third-party chart came from the loopback repository.
              const charts = ours().filter((r) => r.repository !== undefined);
              expect(new Set(charts.map((r) => r.repository))).toEqual(new Set([rig.repo.url]));
              for (const r of charts)
                expect(rig.repo.requests).toContain(`GET /${r.chart}-${r.version}.tgz 200`);
            },
            DEPLOY_MS,
          );

          it(
            "every release is deployed, with exactly the values the stack sets, secrets as given",
            async () => {
              const listed = await rig.helmJson<
                { name: string; namespace: string; status: string }[]
              >(["list", "--all-namespaces", "--all"]);
              expect(listed.map((r) => `${r.namespace}/${r.name} ${r.status}`).sort()).toEqual(
                ours()
                  .map((r) => `${r.namespace}/${r.name} deployed`)
                  .sort(),
              );
              const expected = expectedValues(stack(), rig.secrets);
              const problems: string[] = [];
              for (const r of ours()) {
                const values = await rig.helmJson<Record<string, unknown> | null>([
                  "get",
                  "values",
                  r.name,
                  "-n",
                  r.namespace,
                ]);
                problems.push(...compareValues(r.name, values ?? {}, expected));
              }
              expect(problems).toEqual([]);
            },
            CHECK_MS,
          );

          it(
            "every workload runs: Deployments and StatefulSets available, no pod Pending, Jobs complete",
            async () => {
              const problems = await eventually(
                "every workload ready",
                async () => {
                  const now = await workloadProblems(rig.kubeConfig());
                  return { done: now.length === 0, value: now, state: now };
                },
                120_000,
              ).catch((e: Error) => [e.message]);
              expect(problems).toEqual([]);
              // Nothing refused by PodSecurity or MetalLB, nothing the scheduler cannot place.
              expect(await rig.problems()).toEqual([]);
              // ... with no PodSecurity label but where the host is used: nothing else loosened.
              const labelled: Record<string, string> = {};
              const prefix = "pod-security.kubernetes.io/";
              for (const ns of (await rig.kubeConfig().makeApiClient(CoreV1Api).listNamespace())
                .items) {
                const levels = Object.entries(ns.metadata?.labels ?? {})
                  .filter(([k]) => k.startsWith(prefix))
                  .map(([k, v]) => `${k.slice(prefix.length)}=${v}`);
                if (levels.length > 0) labelled[ns.metadata?.name ?? ""] = levels.sort().join(",");
              }
              expect(labelled).toEqual(privilegedNamespaces(rig.config));
            },
            CHECK_MS,
          );

          it(
            "each DaemonSet runs on exactly the nodes docs/addons.md promises; every other pod on an untainted worker",
            async () => {
              const kc = rig.kubeConfig();
              const placed = await daemonSetNodes(kc);
              expect(placed).toEqual(promisedPlacement(rig.config));
              const pods = (await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces()).items;
              const workers = new Set(untaintedWorkers(rig.config));
              const controlPlane = new Set(
                expandNodes(rig.config)
                  .filter((n) => n.role === "control-plane")
                  .map((n) => n.name),
              );
              const allowed = (p: V1Pod) =>
                workers.has(p.spec?.nodeName ?? "") ||
                (ON_CONTROL_PLANE_TOO.includes(deploymentOf(p) ?? "") &&
                  controlPlane.has(p.spec?.nodeName ?? ""));
              const elsewhere = pods
                .filter((p) => !p.metadata?.ownerReferences?.some((o) => o.kind === "DaemonSet"))
                .filter((p) => !allowed(p))
                .map((p) => `${p.metadata?.namespace}/${p.metadata?.name} on ${p.spec?.nodeName}`);
              expect(elsewhere).toEqual([]);
              // The ingress controller beside a speaker, which announces its address.
              const controller = rig.config.addons.ingress!.controller;
              const ingressNodes = pods
                .filter((p) => p.metadata?.namespace === controller)
                .map((p) => p.spec?.nodeName ?? "");
              expect(ingressNodes.length).toBeGreaterThan(0);
              const speakers = new Set(placed["metallb-system/metallb-speaker"]);
              expect(ingressNodes.filter((n) => !speakers.has(n))).toEqual([]);
            },
            CHECK_MS,
          );

          it(
            "the API server accepts every object of every release under strict field validation",
            async () => {
              const problems: string[] = [];
              for (const r of ours()) {
                const objects = await rig.manifest(r.name, r.namespace);
                for (const p of await strictDryRunProblems(rig.kubeConfig(), objects, r.namespace))
                  problems.push(`${r.name}: ${p}`);
              }
              expect(problems).toEqual([]);
            },
            CHECK_MS,
          );

          it(
            "the ingress controller's LoadBalancer Service holds the definition's address",
            async () => {
              const controller = rig.config.addons.ingress!.controller;
              const services = (
                await rig.kubeConfig().makeApiClient(CoreV1Api).listNamespacedService({
                  namespace: controller,
                })
              ).items.filter((s) => s.spec?.type === "LoadBalancer");
              expect(
                services.map((s) => s.status?.loadBalancer?.ingress?.map((i) => i.ip)),
              ).toEqual([[c.ingressAddress]]);
            },
            CHECK_MS,
          );

          it(
            "npm run diff right after: no change in any stack",
            async () => {
              const review = await rig.rig.review();
              expect({ status: review.status, out: review.output }).toMatchObject({ status: 0 });
              expect(review.stdout).toContain(
                "vms: no changes\ncluster: no changes\naddons: no changes\n",
              );
            },
            CHECK_MS,
          );

          it(
            "a worker added becomes a Node, and the DaemonSets follow it",
            async () => {
              rig.rig.define((d) => {
                d.nodePools.find((p: { name: string }) => p.name === c.workerPool).count += 1;
              });
              const { result, problems } = await rig.deploy(["vms", "cluster", "addons"]);
              expect({ status: result.status, problems }).toEqual({ status: 0, problems: [] });
              const config = rig.config;
              const added = expandNodes(config)
                .filter((n) => n.pool === c.workerPool)
                .at(-1)!.name;
              const nodes = (await rig.kubeConfig().makeApiClient(CoreV1Api).listNode()).items;
              expect(nodes.map((n) => n.metadata?.name)).toContain(added);
              const promised = promisedPlacement(config);
              expect(Object.values(promised).some((names) => names.includes(added))).toBe(true);
              const placed = await eventually(
                "the DaemonSets on the new node",
                async () => {
                  const now = await daemonSetNodes(rig.kubeConfig());
                  return {
                    done: isDeepStrictEqual(now, promised),
                    value: now,
                    state: now,
                  };
                },
                120_000,
              ).catch(async () => daemonSetNodes(rig.kubeConfig()));
              expect(placed).toEqual(promised);
            },
            DEPLOY_MS,
          );

          it(
            "destroying the addons stack leaves no release, namespace or custom resource of its own",
            async () => {
              const kc = rig.kubeConfig();
              expectSuccess(await rig.rig.env.cdktf(["destroy", "addons"]), "cdktf destroy addons");
              expect(await rig.helmJson(["list", "--all-namespaces", "--all"])).toEqual([]);
              const namespaces = await eventually(
                "the add-ons' namespaces gone",
                async () => {
                  const names = (await kc.makeApiClient(CoreV1Api).listNamespace()).items
                    .map((n) => n.metadata?.name ?? "")
                    .sort();
                  return {
                    done: names.length === BASE_NAMESPACES.length,
                    value: names,
                    state: names,
                  };
                },
                120_000,
              ).catch(async () =>
                (await kc.makeApiClient(CoreV1Api).listNamespace()).items
                  .map((n) => n.metadata?.name)
                  .sort(),
              );
              expect(namespaces).toEqual(BASE_NAMESPACES);
              expect(await customResources(kc)).toEqual([]);
              const crdsAfter = (
                await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition()
              ).items.map((d) => d.spec.group);
              expect(crdsAfter.filter((group) => !KEPT_CRD_GROUPS.includes(group))).toEqual([]);
            },
            DEPLOY_MS,
          );

          it(
            "tears down the rest",
            async () => {
              expectSuccess(await rig.rig.teardown(), "teardown");
              expect(rig.rig.env.clusterVms()).toEqual([]);
            },
            DEPLOY_MS,
          );
        });
      }
    });
  });
});
