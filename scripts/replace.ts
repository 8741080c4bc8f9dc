/**
 * `npm run replace -- [--dry-run] NODE...`: the deliberate replacement of nodes' VMs, one at
 * a time (lib/maintenance/replacement.ts): each node drained, removed (remove-node.yml),
 * its VM made anew from the current template by the deploy of the vms and cluster stacks
 * (scripts/cdktf.sh), joined again, and Ready before the next. Runbook: docs/operations.md,
 * "Replacing nodes".
 *
 *   --dry-run               print the order and whether the cluster can spare the next node
 *   --auto-approve          no question (needed without a terminal)
 *   --drain-timeout SECONDS how long a node's evictions may take (default 600)
 *   --ready-timeout SECONDS how long a node may take to be Ready again (default 600)
 *   --skip-preflight        handed to the deploy
 *
 * Environment as for `npm run deploy` (CLUSTER_CONFIG, STATE_DIR, PROXMOX_VE_API_TOKEN,
 * CDKTF_OUTDIR), and KUBECONFIG (default `<state>/kubeconfig`).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline/promises";

import { CoreV1Api, PolicyV1Api } from "@kubernetes/client-node";

import { expandNodes } from "../config/nodes";
import { projectPath } from "../config/project-root";
import { runMain, show, UserError } from "../errors/user-error";
import { loadFromEnvironment, stateDirFromEnvironment } from "../lib/environment";
import { RUNNER_ENTRY } from "../lib/kubespray/project";
import { readLastRun, recordStoreOf } from "../lib/kubespray/record-store";
import { availabilityProblems } from "../lib/maintenance/availability";
import { clusterAvailability, drainNodes } from "../lib/maintenance/host";
import { clusterKubeConfig } from "../lib/maintenance/kube";
import {
  describeOrder,
  progressFile,
  replaceCommand,
  replacementOrder,
  replacementUnderWay,
  replaceNodes,
  waitReady,
} from "../lib/maintenance/replacement";
import { DESTROYABLE_NODES_ENV } from "../lib/node-guard";
import { locateNodeVms } from "../lib/proxmox/vms";
import { proxmoxApiOf } from "../preflight/proxmox-api";

import { outdirFromEnvironment } from "./processes";

const USAGE =
  "usage: npm run replace -- [--dry-run] [--auto-approve] [--drain-timeout SECONDS] [--ready-timeout SECONDS] [--skip-preflight] NODE...";

/** Runs a command with this terminal's output; resolves its exit status. */
function passThrough(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  return new Promise((done) => {
    const child = spawn(cmd, [...args], { cwd: projectPath(), env, stdio: "inherit" });
    child.on("error", () => done(127));
    child.on("close", (code) => done(code ?? 1));
  });
}

interface Args {
  nodes: string[];
  dryRun: boolean;
  autoApprove: boolean;
  skipPreflight: boolean;
  drainSeconds: number;
  readySeconds: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    nodes: [],
    dryRun: false,
    autoApprove: false,
    skipPreflight: false,
    drainSeconds: 600,
    readySeconds: 600,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--dry-run") args.dryRun = true;
    else if (a === "--auto-approve") args.autoApprove = true;
    else if (a === "--skip-preflight") args.skipPreflight = true;
    else if (a === "--drain-timeout" || a === "--ready-timeout") {
      const seconds = Number(argv[++i]);
      if (!Number.isFinite(seconds) || seconds <= 0)
        throw UserError.at(a, `${show(argv[i])} is not a number of seconds`, USAGE);
      if (a === "--drain-timeout") args.drainSeconds = seconds;
      else args.readySeconds = seconds;
    } else if (a.startsWith("-")) throw UserError.at(a, "not an option of npm run replace", USAGE);
    else args.nodes.push(a);
  }
  return args;
}

void runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const { config } = loadFromEnvironment();
  const stateDir = stateDirFromEnvironment(config);
  const store = recordStoreOf(config);
  const record = await readLastRun(store, stateDir);
  const nodes = expandNodes(config);
  const underWay = replacementUnderWay(stateDir);
  const order = replacementOrder(
    args.nodes,
    {
      nodes,
      inCluster: new Set((record?.hosts ?? []).map((h) => h.name)),
      controlPlaneOrder: record?.controlPlaneOrder ?? [],
    },
    underWay,
  );
  const log = (line: string) => process.stderr.write(`[replace] ${line}\n`);
  process.stdout.write(
    `replacing ${order.length === 1 ? "one node" : `${order.length} nodes, one at a time`}, in this order:\n${describeOrder(
      order,
      nodes,
      underWay,
    )
      .map((l) => `  ${l}\n`)
      .join("")}`,
  );

  const kc = clusterKubeConfig(config);
  const core = kc.makeApiClient(CoreV1Api);
  const spare = async (node: string) =>
    availabilityProblems(
      config,
      await clusterAvailability(core, config),
      [node],
      `replacing ${node}`,
    );
  const inCluster = async (node: string) =>
    ((await readLastRun(store, stateDir))?.hosts ?? []).some((h) => h.name === node);

  if (args.dryRun) {
    const next = order.find((n) => !(underWay?.done ?? []).includes(n));
    if (next !== undefined && (await inCluster(next))) {
      const problems = await spare(next);
      if (problems.length > 0) throw new UserError(problems);
      process.stdout.write(`the cluster can spare ${next} now; nothing was changed (dry run)\n`);
    } else process.stdout.write("nothing was changed (dry run)\n");
    return 0;
  }

  if (!args.autoApprove) {
    if (!process.stdin.isTTY)
      throw UserError.at(
        "npm run replace",
        "needs a terminal to confirm on",
        `review the order with --dry-run, then run again with --auto-approve (${replaceCommand(order)} --auto-approve)`,
      );
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question("Replace these nodes' VMs? Only 'yes' goes on: ");
    rl.close();
    if (answer.trim() !== "yes") {
      process.stdout.write("nothing was changed\n");
      return 0;
    }
  }

  const api = proxmoxApiOf(config, process.env);
  const vmIds = new Map(nodes.map((n) => [n.name, n.vmId]));
  const outdir = outdirFromEnvironment();
  /** `npm run deploy -- <stacks>`; only `node`'s VM may be destroyed. */
  const deploy = async (stacks: readonly string[], node?: string) => {
    const status = await passThrough(
      "bash",
      [
        projectPath("scripts", "cdktf.sh"),
        "deploy",
        ...stacks,
        "--auto-approve",
        "--output",
        outdir,
        ...(args.skipPreflight ? ["--skip-preflight"] : []),
      ],
      // The synth run by cdktf.sh's adoption reads CDKTF_OUTDIR, cdktf itself --output.
      { ...process.env, [DESTROYABLE_NODES_ENV]: node ?? "", CDKTF_OUTDIR: outdir },
    );
    if (status !== 0)
      throw UserError.at(
        node ?? "npm run replace",
        `the deploy of the ${stacks.join(" and ")} stack${stacks.length > 1 ? "s" : ""} exited ${status}`,
        "its output above says what failed",
      );
  };
  await replaceNodes(
    order,
    {
      inCluster,
      spare,
      drain: async (node) => {
        await drainNodes(
          {
            core,
            policy: kc.makeApiClient(PolicyV1Api),
            log,
            timeoutMs: args.drainSeconds * 1000,
          },
          [node],
          {
            why: `replacing ${node}`,
            mark: "replacement",
            retry: `run the same ${replaceCommand(order)} again`,
          },
        );
      },
      remove: async (node) => {
        const status = await passThrough(
          process.execPath,
          [RUNNER_ENTRY, "remove-node", stateDir, node],
          process.env,
        );
        if (status !== 0)
          throw UserError.at(
            node,
            `the runner's remove-node (remove-node.yml) exited ${status}`,
            `its lines above say what failed; the run's log is in ${stateDir}/runs/`,
          );
      },
      vmgenid: async (node) => {
        const { found } = await locateNodeVms(api, new Map([[node, vmIds.get(node) ?? 0]]));
        const vm = found[0];
        if (vm === undefined) return undefined;
        const cfg = await api.get<{ vmgenid?: string }>(`/nodes/${vm.node}/qemu/${vm.vmid}/config`);
        return cfg.vmgenid;
      },
      rebuild: (node) => deploy(["vms", "cluster"], node),
      cleanup: () => deploy(["vms"]),
      ready: (node) => waitReady(core, node, { timeoutMs: args.readySeconds * 1000 }),
      log,
    },
    progressFile(stateDir),
  );
  log(`done: ${order.join(", ")} replaced; npm run diff should show no change`);
  return 0;
});
