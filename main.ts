/**
 * The cdktf app: one cluster definition (`CLUSTER_CONFIG`, default the bundled example)
 * drives the vms, cluster and addons stacks. Deploy with `cdktf deploy vms cluster addons`.
 */
import { Annotations, App } from "cdktf";

import { readVaultCaBundles } from "./config/ca-bundles";
import { formatIssue, runMain } from "./errors/user-error";
import { loadFromEnvironment, stateDirFromEnvironment } from "./lib/environment";
import { readLastRun } from "./lib/kubespray/record-store";
import { recordStoreOf } from "./lib/kubespray/runner-inputs";
import { destroyableNodes } from "./lib/node-guard";
import { AddonsStack, ClusterStack, VmsStack } from "./stacks";

// Every mistake in the user's input (the definition, a file it names, a change the
// Kubespray playbooks cannot make) is a UserError: its lines and exit code 2, no stack trace.
void runMain(async () => {
  const { config, warnings, file } = loadFromEnvironment();
  const stateDir = stateDirFromEnvironment(config);
  const baseDir = process.cwd();

  const app = new App();
  const vms = new VmsStack(app, "vms", {
    config,
    stateDir,
    definitionFile: file,
    destroyableNodes: destroyableNodes(process.env),
  });
  const cluster = new ClusterStack(app, "cluster", {
    config,
    stateDir,
    baseDir,
    nodes: vms.nodes,
    lastRun: await readLastRun(recordStoreOf(config), stateDir),
  });
  const addons = new AddonsStack(app, "addons", {
    config,
    stateDir,
    kubeconfigPath: cluster.kubeconfigPath,
    baseDir,
    vaultCaBundles: readVaultCaBundles(config, baseDir),
  });
  // Deploy in this order (and destroy in reverse) even where no value crosses stacks.
  cluster.addDependency(vms);
  addons.addDependency(cluster);
  // cdktf marks an annotation as a warning itself.
  for (const w of warnings) Annotations.of(app).addWarning(formatIssue({ ...w, warning: false }));
  app.synth();
});
