/**
 * Preflight's checks of this machine: the Kubespray checkout and its Ansible (when the
 * cluster stack is deployed in `run` mode), and the add-ons' secrets in the environment.
 */
import type { ClusterConfig } from "../config/schema";
import { secretVariables } from "../config/secrets";
import type { Issue } from "../errors/user-error";
import { issue } from "../errors/user-error";
import { kubesprayRelease } from "../kubespray-vars/releases";
import type { KubesprayFacts } from "../lib/kubespray/checkout";
import { checkoutProblems } from "../lib/kubespray/checkout";
import { absoluteUserPath, expandHome } from "../lib/kubespray/project";

/** Mode `run`: the pinned Kubespray release checked out, and an Ansible in its range. */
export function kubesprayProblems(config: ClusterConfig, baseDir: string): Issue[] {
  if (config.kubespray.mode !== "run") return [];
  const release = kubesprayRelease(config.kubernetes.kubesprayVersion);
  const facts: KubesprayFacts = {
    kubesprayVersion: release.version,
    ansibleCore: release.ansibleCore,
    venv:
      config.kubespray.venv === undefined
        ? undefined
        : expandHome(absoluteUserPath(config.kubespray.venv, baseDir)),
  };
  return checkoutProblems(facts, expandHome(absoluteUserPath(config.kubespray.dir, baseDir)));
}

/** Every secret the add-ons need, set in the environment. */
export function secretProblems(config: ClusterConfig, env: NodeJS.ProcessEnv): Issue[] {
  return secretVariables(config)
    .filter((s) => !env[s.env])
    .map((s) => issue(s.env, "not set", `export it: ${s.description}`));
}
