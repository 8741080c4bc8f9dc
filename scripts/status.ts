/**
 * `npm run status [-- STACK...] [--json] [--no-cluster]`: one view of the cluster.
 *
 * - per Proxmox host, the cluster's VMs: name, VM ID, address (the guest agent's, else the
 *   definition's) and power state; the nodes that have no VM;
 * - the Kubernetes version the record of the last Kubespray run holds, and that run;
 * - the last runs of the runner (`<state>/runs/`, with pg from the database) and how each
 *   ended;
 * - the add-on releases and their chart versions in the addons stack's state, and, when the
 *   kubeconfig answers (not with `--no-cluster`), the releases the cluster itself holds;
 * - what `npm run diff` would say of every stack (or of the STACKs named), unless a stack's
 *   last apply could not save its state (`errored.tfstate`): then those files and how to
 *   push them come first, and no stack is reviewed against the state from before.
 *
 * `--json` prints the same as one JSON object. Environment as for `npm run diff`.
 */
import { existsSync } from "node:fs";

import { loadClusterConfig } from "../config/load";
import { expandNodes } from "../config/nodes";
import type { ClusterConfig } from "../config/schema";
import { PROXMOX_ENV } from "../config/secrets";
import { formatIssue, runMain } from "../errors/user-error";
import type { ClusterReader, HelmRelease } from "../lib/cluster-reader";
import { kubeconfigReader } from "../lib/cluster-reader";
import { definitionFile, stateDirFromEnvironment } from "../lib/environment";
import { statePaths } from "../lib/kubespray/record";
import { readLastRun, readStoredRuns, recordStoreOf } from "../lib/kubespray/record-store";
import type { RunSummary } from "../lib/kubespray/runs";
import { listRuns } from "../lib/kubespray/runs";
import type { ClusterVm } from "../preflight/cluster-vms";
import { agentAddresses, listVms, reachableIpv4 } from "../preflight/cluster-vms";
import type { ProxmoxApi } from "../preflight/proxmox-api";
import { ApiError, ProxmoxHttpsClient } from "../preflight/proxmox-api";
import { duration } from "../runner/progress";

import { erroredStateError } from "./errored-state";
import { capture, initStack, outdirFromEnvironment, toolchainEnv } from "./processes";
import type { StackReview } from "./review";
import { report, reviewStacks, stackDir } from "./review";

/** One VM of the cluster on its Proxmox host. */
export interface VmStatus {
  readonly name: string;
  readonly vmId: number;
  /** The guest agent's IPv4 address, else the definition's static one. */
  readonly address?: string;
  /** `running`, `stopped`... */
  readonly power: string;
}

export interface ProxmoxStatus {
  readonly hosts: readonly { readonly host: string; readonly vms: readonly VmStatus[] }[];
  /** Nodes of the definition without a VM. */
  readonly missing: readonly {
    readonly name: string;
    readonly vmId: number;
    readonly host: string;
  }[];
  /** Why Proxmox could not be read. */
  readonly error?: string;
}

/** A helm_release of the addons stack's state. */
export interface AddonStatus {
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  readonly version: string;
  readonly status: string;
}

export interface ClusterStatus {
  readonly serverVersion?: string;
  readonly releases?: readonly HelmRelease[];
  /** Why the cluster did not answer, or that it was not asked. */
  readonly error?: string;
}

export interface Status {
  readonly cluster: string;
  readonly definition: string;
  readonly stateDir: string;
  readonly proxmox: ProxmoxStatus;
  /** From the record of the last successful Kubespray run; undefined before the first one. */
  readonly kubernetes?: {
    readonly version: string;
    readonly action: string;
    readonly completedAt: string;
    readonly runs: readonly string[];
  };
  /** The last runs, oldest first. */
  readonly runs: readonly RunSummary[];
  readonly addons: {
    readonly state: readonly AddonStatus[];
    readonly stateError?: string;
    readonly cluster: ClusterStatus;
  };
  /**
   * The states an apply could not save (`errored.tfstate`), one line each (`file: problem;
   * fix`); while there is one, nothing is reviewed.
   */
  readonly unsavedStates: readonly string[];
  readonly review: readonly StackReview[];
  readonly reviewError?: string;
}

/** Runs shown. */
const LAST_RUNS = 10;
/** How long the cluster has to answer. */
const CLUSTER_TIMEOUT_MS = 15_000;

/** The cluster's VMs per Proxmox host, read with the deploy's token. */
export async function proxmoxStatus(
  config: ClusterConfig,
  api: ProxmoxApi,
): Promise<ProxmoxStatus> {
  const nodes = expandNodes(config);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let vms: ClusterVm[];
  try {
    vms = (await listVms(api)).filter((v) => v.template !== 1 && byName.has(v.name ?? ""));
  } catch (e) {
    // Proxmox's own words (`401 ...`): the line says what was asked.
    const error = e instanceof ApiError ? e.reason : e instanceof Error ? e.message : String(e);
    return { hosts: [], missing: [], error };
  }
  const status = await Promise.all(
    vms.map(async (vm): Promise<VmStatus & { host: string }> => {
      const node = byName.get(vm.name ?? "");
      const agent =
        vm.status === "running"
          ? await agentAddresses(api, vm).then(reachableIpv4, () => undefined)
          : undefined;
      return {
        host: vm.node,
        name: vm.name ?? "",
        vmId: vm.vmid,
        address: agent ?? node?.staticIp,
        power: vm.status ?? "unknown",
      };
    }),
  );
  const hosts = [...new Set([...config.proxmox.hosts, ...status.map((s) => s.host)])];
  const order = nodes.map((n) => n.name);
  return {
    hosts: hosts.map((host) => ({
      host,
      vms: status
        .filter((s) => s.host === host)
        .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
        .map(({ name, vmId, address, power }) => ({ name, vmId, address, power })),
    })),
    missing: nodes
      .filter((n) => !vms.some((v) => v.name === n.name))
      .map((n) => ({ name: n.name, vmId: n.vmId, host: n.host })),
  };
}

/** The helm_release resources of a `tofu show -json` of the addons stack's state. */
export function addonsInState(shown: unknown): AddonStatus[] {
  const resources =
    (
      shown as {
        values?: {
          root_module?: { resources?: { type: string; values: Record<string, unknown> }[] };
        };
      }
    ).values?.root_module?.resources ?? [];
  return resources
    .filter((r) => r.type === "helm_release")
    .map((r) => ({
      name: String(r.values.name ?? ""),
      namespace: String(r.values.namespace ?? ""),
      chart: String(r.values.chart ?? ""),
      version: String(r.values.version ?? ""),
      status: String(r.values.status ?? ""),
    }));
}

/** The cluster's answer, within a bound: a VIP that does not answer must not hang status. */
export async function clusterStatus(reader: ClusterReader): Promise<ClusterStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${CLUSTER_TIMEOUT_MS / 1000} s`)),
      CLUSTER_TIMEOUT_MS,
    );
  });
  try {
    const [serverVersion, releases] = await Promise.race([
      Promise.all([reader.serverVersion(), reader.helmReleases()]),
      timeout,
    ]);
    return { serverVersion, releases };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}

export interface StatusOptions {
  /** Stacks to review. @default - every stack */
  readonly stacks: readonly string[];
  /** Leave the cluster alone (no kubeconfig request). @default false */
  readonly noCluster: boolean;
}

/** Everything `npm run status` shows. */
export async function collectStatus(
  env: NodeJS.ProcessEnv,
  options: StatusOptions,
): Promise<Status> {
  const file = definitionFile(env);
  const { config } = loadClusterConfig(file);
  const stateDir = stateDirFromEnvironment(config, env);
  const store = recordStoreOf(config);
  const api = new ProxmoxHttpsClient({
    endpoint: config.proxmox.endpoint,
    token: env[PROXMOX_ENV.token],
    insecure: config.proxmox.insecure,
  });
  const outdir = outdirFromEnvironment(env);
  // A review would plan against the state from before the apply that left the file.
  const unsaved =
    (await erroredStateError("before", config, outdir))?.issues.map(formatIssue) ?? [];
  const [proxmox, record, runs, reviewed] = await Promise.all([
    proxmoxStatus(config, api),
    readLastRun(store, stateDir),
    store ? readStoredRuns(store, env) : listRuns(stateDir),
    unsaved.length > 0
      ? {
          ok: false as const,
          error: "not reviewed: a stack's state was not saved (above); push it first",
        }
      : reviewStacks(outdir, options.stacks, env).then(
          (r) => ({ ok: true as const, ...r }),
          (e: unknown) => ({
            ok: false as const,
            error: e instanceof Error ? e.message : String(e),
          }),
        ),
  ]);

  let state: AddonStatus[] = [];
  let stateError: string | undefined;
  if (reviewed.ok) {
    const dir = stackDir(outdir, reviewed.manifest, "addons");
    const tofuEnv = toolchainEnv(env);
    const init = reviewed.reviews.some((r) => r.stack === "addons")
      ? undefined
      : await initStack(dir, tofuEnv);
    const shown =
      init && init.status !== 0
        ? init
        : await capture("tofu", ["show", "-json", "-no-color"], dir, tofuEnv);
    if (shown.status === 0) state = addonsInState(JSON.parse(shown.stdout));
    else stateError = (shown.stderr || shown.stdout).trim();
  } else {
    stateError = reviewed.error;
  }

  const kubeconfig = statePaths(stateDir).kubeconfig;
  const cluster: ClusterStatus = options.noCluster
    ? { error: "not asked (--no-cluster)" }
    : existsSync(kubeconfig)
      ? await clusterStatus(await kubeconfigReader(kubeconfig))
      : { error: `no kubeconfig at ${kubeconfig} yet` };

  return {
    cluster: config.name,
    definition: file,
    stateDir,
    proxmox,
    kubernetes: record && {
      version: String(record.vars.kube_version ?? ""),
      action: record.action,
      completedAt: record.completedAt,
      runs: record.runs ?? [],
    },
    runs: runs.slice(-LAST_RUNS),
    addons: { state, stateError, cluster },
    unsavedStates: unsaved,
    review: reviewed.ok ? reviewed.reviews : [],
    reviewError: reviewed.ok ? undefined : reviewed.error,
  };
}

const when = (iso: string) => iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");

/** The status as people read it. */
export function renderStatus(s: Status): string {
  const out = [`cluster ${s.cluster} (${s.definition}), state ${s.stateDir}`, ""];
  if (s.unsavedStates.length > 0)
    out.push("State not saved (errored.tfstate)", ...s.unsavedStates.map((l) => `  ${l}`), "");
  out.push("Proxmox VMs");
  if (s.proxmox.error) out.push(`  cannot read Proxmox: ${s.proxmox.error}`);
  for (const h of s.proxmox.hosts) {
    out.push(`  ${h.host}${h.vms.length === 0 ? ": none" : ""}`);
    for (const vm of h.vms)
      out.push(`    ${vm.name}  ${vm.vmId}  ${vm.address ?? "no address"}  ${vm.power}`);
  }
  for (const m of s.proxmox.missing) out.push(`  no VM: ${m.name} (VM ${m.vmId} on ${m.host})`);

  out.push("");
  out.push(
    s.kubernetes
      ? `Kubernetes ${s.kubernetes.version}: the record of the last run (${s.kubernetes.action}, ${when(s.kubernetes.completedAt)})`
      : "Kubernetes: no successful Kubespray run recorded yet",
  );

  out.push("", "Last runs");
  if (s.runs.length === 0) out.push("  none");
  for (const r of s.runs) {
    const failed = r.failures.map((f) => `${f.host}: ${f.task}`);
    out.push(
      `  ${when(r.startedAt)}  ${r.label}  ${r.result} (${r.exit})  ${duration(r.durationSeconds)}` +
        (failed.length > 0 ? `  ${[...new Set(failed)].join("; ")}` : ""),
    );
  }

  out.push("", "Add-ons in the addons stack's state");
  if (s.addons.stateError)
    out.push(`  cannot read the state: ${s.addons.stateError.split("\n")[0]}`);
  else if (s.addons.state.length === 0) out.push("  none deployed");
  for (const a of s.addons.state)
    out.push(`  ${a.namespace}/${a.name}  ${a.chart} ${a.version}  ${a.status}`);
  const c = s.addons.cluster;
  if (c.error) out.push(`In the cluster: ${c.error}`);
  else {
    out.push(`In the cluster (Kubernetes ${c.serverVersion ?? "?"})`);
    for (const r of c.releases ?? [])
      out.push(
        `  ${r.namespace}/${r.name}  ${r.chart} ${r.version}  ${r.status} (revision ${r.revision})`,
      );
  }

  out.push("", "Review (npm run diff)");
  if (s.reviewError) out.push(`  ${s.reviewError}`);
  else
    out.push(
      ...report(s.review)
        .split("\n")
        .map((l) => `  ${l}`),
    );
  return `${out.join("\n")}\n`;
}

async function main(argv: readonly string[]): Promise<void> {
  const json = argv.includes("--json");
  const options: StatusOptions = {
    stacks: argv.filter((a) => !a.startsWith("--")),
    noCluster: argv.includes("--no-cluster"),
  };
  const status = await collectStatus(process.env, options);
  process.stdout.write(json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
}

if (require.main === module) {
  // exit: the Kubernetes client may keep a connection open.
  void runMain(() => main(process.argv.slice(2)));
}
