/**
 * The whole app against everything that can stand in for a real site: the Proxmox VE
 * double, the stand-in Kubespray (real ansible-playbook) registering each VM as a Node of a
 * test cluster (test-cluster/, the real kube-apiserver, controller manager and scheduler,
 * kwok for the kubelets), the controllers that cannot run there played as they behave
 * (MetalLB's, the CSI provisioners), and the upstream charts served as a chart repository
 * on loopback, which the definition takes every chart from (the air-gapped mirror path).
 *
 * The addons stack reaches the cluster as on a real deploy: the stand-in writes the test
 * cluster's admin.conf where Kubespray writes it, the runner copies it into the state
 * directory with its server at the API VIP, and the addons stack reads that file. The VIP
 * is off loopback, so the runner is told to name the test cluster's server in its place
 * (KSPRAY_VIP_SERVER); nothing is ever sent to the VIP.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { CoreV1Event } from "@kubernetes/client-node";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";

import { parseClusterConfig } from "../../../config/load";
import type { ClusterConfig } from "../../../config/schema";
import { secretVariables } from "../../../config/secrets";
import { chartsDirFromEnvironment } from "../../../lib/environment";
import { statePaths } from "../../../lib/kubespray/record";
import { ChartRepository } from "../../../test-cluster/chart-repository";
import type { TestCluster } from "../../../test-cluster/cluster";
import { DefinitionCluster } from "../../../test-cluster/definition-cluster";
import { METALLB_NAMESPACE } from "../../../test-cluster/metallb";
import type { Definition } from "../../fixtures/definitions";
import { secretValues } from "../../support/secret-values";
import { toolchainEnv, toolPath } from "../../support/toolchain";

import { ClusterRig } from "./cluster-rig";
import type { CommandResult, EnvironmentOptions } from "./harness";
import { expectSuccess, run } from "./harness";

/** A problem the cluster reports that no waiting will solve. */
export interface ClusterProblem {
  /** What it is about: `Service traefik/traefik`, `DaemonSet metallb-system/...`. */
  readonly about: string;
  readonly message: string;
}

export class AddonsRig {
  private constructor(
    readonly rig: ClusterRig,
    private readonly shaped: DefinitionCluster,
    readonly repo: ChartRepository,
    /** Each secret variable's value, as `TF_VAR_<name>` gives it. */
    readonly secrets: Readonly<Record<string, string>>,
    private readonly dir: string,
    /** What the played controllers did, a line each. */
    readonly playLog: readonly string[],
  ) {}

  /**
   * A test cluster configured as Kubespray configures the definition's (its admission and
   * PodSecurity), the plays, the chart repository, and a rig whose definition takes every
   * chart from that repository.
   */
  static async start(definition: Definition, seed: EnvironmentOptions["seed"]): Promise<AddonsRig> {
    const dir = mkdtempSync(join(tmpdir(), "addons-e2e-"));
    const repo = await ChartRepository.start(chartsDirFromEnvironment());
    const mirrored = repo.mirror(definition);
    const { config } = parseClusterConfig(mirrored);
    const playLog: string[] = [];
    const shaped = await DefinitionCluster.start(config, {
      log: (who, line) => playLog.push(`${who}: ${line}`),
    });
    const { cluster } = shaped;
    const secrets = secretValues(secretVariables(config).map((s) => s.name));
    const helmHome = join(dir, "helm");
    mkdirSync(helmHome);
    const rig = await ClusterRig.start(mirrored, seed, {
      KSPRAY_STANDIN_KUBECONFIG: cluster.kubeconfigPath,
      KSPRAY_VIP_SERVER: cluster.server,
      // The helm provider's repository cache and configuration: this run's own.
      HELM_CACHE_HOME: helmHome,
      HELM_CONFIG_HOME: helmHome,
      HELM_DATA_HOME: helmHome,
      ...Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`TF_VAR_${k}`, v])),
    });
    return new AddonsRig(rig, shaped, repo, secrets, dir, playLog);
  }

  /** The test cluster. */
  get cluster(): TestCluster {
    return this.shaped.cluster;
  }

  /** The definition last written (charts from the loopback repository), parsed. */
  get config(): ClusterConfig {
    return parseClusterConfig(this.rig.env.definition).config;
  }

  /** The kubeconfig the cluster stack exported and the addons stack uses. */
  get kubeconfigPath(): string {
    return statePaths(this.rig.env.stateDir).kubeconfig;
  }

  /** A client configuration from that kubeconfig. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** The helm CLI (the provider's Helm version) against the exported kubeconfig. */
  helm(args: readonly string[]): Promise<CommandResult> {
    const home = join(this.dir, "helm");
    return run(toolPath("helm"), [...args, "--kubeconfig", this.kubeconfigPath], {
      cwd: this.dir,
      env: toolchainEnv({
        PATH: process.env.PATH,
        HOME: this.dir,
        HELM_CACHE_HOME: home,
        HELM_CONFIG_HOME: home,
        HELM_DATA_HOME: home,
      }),
      timeoutMs: 120_000,
    });
  }

  /** `helm <args> -o json`, parsed. */
  async helmJson<T>(args: readonly string[]): Promise<T> {
    const r = expectSuccess(await this.helm([...args, "-o", "json"]), `helm ${args.join(" ")}`);
    return JSON.parse(r.stdout) as T;
  }

  /**
   * The objects an install of a release creates: `helm get manifest`, and its hooks but the
   * test hooks (`helm.sh/hook: test`), which only `helm test` creates, with what they need.
   */
  async manifest(release: string, namespace: string): Promise<Record<string, unknown>[]> {
    const docs: Record<string, unknown>[] = [];
    for (const what of ["manifest", "hooks"]) {
      const r = expectSuccess(
        await this.helm(["get", what, release, "-n", namespace]),
        `helm get ${what} ${release}`,
      );
      for (const text of r.stdout.split(/^---\s*$/m)) {
        const doc = parse(text) as Record<string, unknown> | null;
        if (!doc || typeof doc !== "object" || !("kind" in doc)) continue;
        const hook = (doc.metadata as { annotations?: Record<string, string> } | undefined)
          ?.annotations?.["helm.sh/hook"];
        if (hook?.split(",").some((h) => h.trim().startsWith("test"))) continue;
        docs.push(doc);
      }
    }
    return docs;
  }

  /**
   * `cdktf deploy <stacks>`, ended early when the cluster reports a problem that keeps
   * standing for `settleMs` (an address MetalLB refuses, pods PodSecurity refuses, pods no
   * node can take): Helm would otherwise wait for its timeout (up to 15 minutes) and say
   * only that it timed out. The problems found are returned with the result.
   */
  async deploy(
    stacks: readonly string[],
    settleMs = 60_000,
  ): Promise<{ result: CommandResult; problems: ClusterProblem[] }> {
    const abort = new AbortController();
    let problems: ClusterProblem[] = [];
    const seen = new Map<string, number>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        await new Promise((resolve) => setTimeout(resolve, 5000));
        if (!watching) break;
        const now = await this.problems().catch(() => []);
        const standing = now.filter((p) => {
          const key = `${p.about}: ${p.message}`;
          if (!seen.has(key)) seen.set(key, Date.now());
          return Date.now() - seen.get(key)! >= settleMs;
        });
        if (standing.length > 0) {
          problems = standing;
          abort.abort();
          break;
        }
      }
    })();
    const result = await this.rig.env.cdktf(["deploy", ...stacks], {
      timeoutMs: 1_800_000,
      signal: abort.signal,
    });
    watching = false;
    await watch;
    if (result.status !== 0 && problems.length === 0) problems = await this.problems();
    return { result, problems };
  }

  /**
   * What the cluster says cannot get better by waiting: MetalLB's AllocationFailed and
   * LoadBalancerFailed, controllers' FailedCreate (PodSecurity refusing a pod), and pods the
   * scheduler cannot place (its reason).
   */
  async problems(): Promise<ClusterProblem[]> {
    const core = this.cluster.client(CoreV1Api);
    const out: ClusterProblem[] = [];
    const refused = this.shaped.metallb.configurationError();
    if (refused !== undefined)
      out.push({
        about: `MetalLB (${METALLB_NAMESPACE})`,
        message: `refuses its configuration: ${refused}`,
      });
    const events: CoreV1Event[] = (await core.listEventForAllNamespaces()).items;
    for (const e of events) {
      const o = e.involvedObject;
      const about = `${o.kind} ${o.namespace}/${o.name}`;
      if (e.type !== "Warning") continue;
      // One line for what a controller says of each pod it makes.
      const message = (e.message ?? "").replace(/pods "[^"]+" is forbidden/, "pods are forbidden");
      if (["AllocationFailed", "LoadBalancerFailed", "FailedCreate"].includes(e.reason ?? ""))
        out.push({ about, message: `${e.reason}: ${message}` });
    }
    for (const pod of (await core.listPodForAllNamespaces()).items) {
      const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
      if (pod.status?.phase === "Pending" && scheduled?.status === "False")
        out.push({
          about: `Pod ${pod.metadata?.namespace}/${pod.metadata?.name}`,
          message: `Pending: ${scheduled.reason}: ${scheduled.message}`,
        });
    }
    return [...new Map(out.map((p) => [`${p.about}: ${p.message}`, p])).values()];
  }

  /** Writes the play log beside the e2e directory (kept with KEEP_E2E_DIR). */
  async stop(): Promise<void> {
    await this.shaped.stop();
    writeFileSync(join(this.rig.env.dir, "plays.log"), `${this.playLog.join("\n")}\n`);
    await this.rig.stop();
    await this.repo.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
