/**
 * `npm run test-cluster [-- --dir DIR]`: starts a test cluster configured as Kubespray would
 * configure the definition's (`CLUSTER_CONFIG`, else the bundled example), with the
 * controllers the add-ons need played (MetalLB's, the CSI provisioners of its storage
 * backends), prints where its admin kubeconfig is and how to deploy onto it, and runs until
 * Ctrl-C (or SIGTERM), which stops it and removes its directory (kept with `--dir`). No node
 * exists until something registers one, as the stand-in Kubespray does on a deploy
 * (docs/test-cluster.md).
 */
import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { runMain, UserError } from "../errors/user-error";
import { controlPlaneDirFromEnvironment, loadFromEnvironment } from "../lib/environment";

import { DefinitionCluster } from "./definition-cluster";
import { METALLB_NAMESPACE } from "./metallb";

async function main(): Promise<void> {
  let values: { dir?: string };
  try {
    ({ values } = parseArgs({ options: { dir: { type: "string" } } }));
  } catch (e) {
    throw UserError.at(
      "npm run test-cluster",
      (e as Error).message,
      "usage: npm run test-cluster [-- --dir DIR]",
    );
  }
  const { config, file } = loadFromEnvironment();
  const dir = values.dir === undefined ? undefined : resolve(values.dir);
  process.stdout.write(`starting a test cluster shaped like ${file}...\n`);
  const t0 = Date.now();
  // The run's directory is known before the plays start: they log into it.
  const runDir = dir ?? mkdtempSync(join(tmpdir(), "test-cluster-"));
  const playsLog = join(runDir, "logs", "controllers.log");
  const shaped = await DefinitionCluster.start(config, {
    dir: runDir,
    keepDir: dir !== undefined,
    controlPlaneDir: controlPlaneDirFromEnvironment(),
    log: (who, line) => appendFileSync(playsLog, `${new Date().toISOString()} ${who}: ${line}\n`),
  });
  const { cluster, provisioners } = shaped;
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  const { admission } = cluster;
  process.stdout.write(
    [
      `Kubernetes ${cluster.version} at ${cluster.server}, ready in ${seconds}s`,
      `admission plugins: ${admission.enable.join(",")}; off: ${admission.disable.join(",")}`,
      `controllers played: MetalLB's (pools in ${METALLB_NAMESPACE})` +
        (provisioners.length > 0 ? `, the CSI provisioners ${provisioners.join(", ")}` : ""),
      `logs: ${cluster.dir}/logs (the played controllers: controllers.log)`,
      "",
      `kubeconfig: ${cluster.kubeconfigPath}`,
      `  export KUBECONFIG=${cluster.kubeconfigPath}`,
      "",
      'To deploy onto it with the stand-in Kubespray (docs/test-cluster.md, "Deploying the',
      'add-ons onto it"), in the shell that deploys:',
      `  export KSPRAY_STANDIN_KUBECONFIG=${cluster.kubeconfigPath} KSPRAY_VIP_SERVER=${cluster.server}`,
      "",
      `Ctrl-C stops it${dir === undefined ? ` and removes ${cluster.dir}` : ""}.`,
      "",
    ].join("\n"),
  );
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = () => {
      // A second Ctrl-C must not end this process before its components have stopped.
      if (stopping) return void process.stdout.write("still stopping the test cluster...\n");
      stopping = true;
      process.stdout.write("stopping the test cluster...\n");
      shaped.stop().then(done, done);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

void runMain(main);
