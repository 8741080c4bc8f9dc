/**
 * The cdktf app: one cluster definition (`CLUSTER_CONFIG`, default the bundled example)
 * drives the vms, cluster and addons stacks. Deploy with `cdktf deploy vms cluster addons`.
 */
import { mkdirSync } from "node:fs";

import { Annotations, App } from "cdktf";

import { readNamedFiles } from "./config/named-files";
import type { ClusterConfig } from "./config/schema";
import type { Issue } from "./errors/user-error";
import { formatIssue, runMain, UserError } from "./errors/user-error";
import { loadFromEnvironment, stateDirFromEnvironment } from "./lib/environment";
import { readLastRun, recordStoreOf } from "./lib/kubespray/record-store";
import { replacementUnderWay } from "./lib/maintenance/replacement";
import { destroyableNodes } from "./lib/node-guard";
import { AddonsStack, ClusterStack, VmsStack } from "./stacks";

// Every mistake in the user's input (the definition, a file it names, a change the
// Kubespray playbooks cannot make) is a UserError: its lines and exit code 2, no stack trace.
void runMain(async () => {
  const { config, warnings, file, locate } = loadFromEnvironment();
  try {
    await synth(config, warnings, file);
  } catch (e) {
    // A refusal found while building the stacks (a Kubernetes downgrade) names the field's
    // line of the definition, as the definition's own problems do.
    throw e instanceof UserError && file !== undefined && locate !== undefined
      ? e.locatedIn(file, locate)
      : e;
  }
});

async function synth(
  config: ClusterConfig,
  warnings: readonly Issue[],
  file: string | undefined,
): Promise<void> {
  const stateDir = stateDirFromEnvironment(config);
  const baseDir = process.cwd();
  const { vaultCaBundles } = readNamedFiles(config, baseDir);
  // Every input first: built after this await, the stacks are built from a shallow call
  // stack, and cdktf captures a stack trace for each attribute block of every resource.
  const lastRun = await readLastRun(recordStoreOf(config), stateDir);

  // cdktf makes its output folder but not the folders above it (CDKTF_OUTDIR=a/new/path).
  if (process.env.CDKTF_OUTDIR) mkdirSync(process.env.CDKTF_OUTDIR, { recursive: true });
  const app = new App();
  const vms = new VmsStack(app, "vms", {
    config,
    stateDir,
    definitionFile: file,
    destroyableNodes: destroyableNodes(process.env),
    replacing: replacementUnderWay(stateDir)?.current,
  });
  const cluster = new ClusterStack(app, "cluster", {
    config,
    stateDir,
    baseDir,
    nodes: vms.nodes,
    lastRun,
  });
  const addons = new AddonsStack(app, "addons", {
    config,
    stateDir,
    kubeconfigPath: cluster.kubeconfigPath,
    baseDir,
    vaultCaBundles,
  });
  // Deploy in this order (and destroy in reverse) even where no value crosses stacks.
  cluster.addDependency(vms);
  addons.addDependency(cluster);
  // cdktf marks an annotation as a warning itself.
  for (const w of warnings) Annotations.of(app).addWarning(formatIssue({ ...w, warning: false }));
  app.synth();
}
