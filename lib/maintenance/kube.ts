/**
 * The cluster's Kubernetes API for the maintenance commands (`npm run host`, `npm run
 * replace`): `KUBECONFIG`, else the admin kubeconfig the runner copied to
 * `<state>/kubeconfig`.
 */
import { existsSync } from "node:fs";

import { KubeConfig } from "@kubernetes/client-node";

import type { ClusterConfig } from "../../config/schema";
import { UserError } from "../../errors/user-error";
import { stateDirFromEnvironment } from "../environment";
import { statePaths } from "../kubespray/record";

export function clusterKubeConfig(
  config: ClusterConfig,
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig {
  const path = env.KUBECONFIG ?? statePaths(stateDirFromEnvironment(config, env)).kubeconfig;
  if (!existsSync(path))
    throw UserError.at(
      path,
      "no kubeconfig",
      "deploy the cluster stack first (it copies the admin kubeconfig there), or set KUBECONFIG",
    );
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
