/**
 * The Kubespray checkout a run uses, and its Ansible: the pinned release (its galaxy.yml)
 * and an ansible-core in the range that release requires. The runner refuses to start
 * without them; preflight reports the same problems before a deploy.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import semver from "semver";
import { parse } from "yaml";

import type { Issue } from "../../errors/user-error";
import { issue } from "../../errors/user-error";

import type { RunnerSettings } from "./commands";

/** What the checks read of the runner's settings (preflight has no more than this). */
export type KubesprayFacts = Pick<RunnerSettings, "kubesprayVersion" | "venv" | "ansibleCore">;

const installHint = (s: KubesprayFacts, dir: string) =>
  `run: npm run kubespray:install -- --dir ${dir} --version ${s.kubesprayVersion}`;

/** A Kubespray directory that is missing or holds another release. */
function checkoutProblem(settings: KubesprayFacts, dir: string): Issue | undefined {
  const galaxy = join(dir, "galaxy.yml");
  if (!existsSync(galaxy))
    return issue(
      "kubespray.dir",
      `${dir} is not a Kubespray checkout (no galaxy.yml)`,
      installHint(settings, dir),
    );
  const version = String((parse(readFileSync(galaxy, "utf8")) as { version?: unknown }).version);
  if (`v${version}` !== settings.kubesprayVersion)
    return issue(
      "kubespray.dir",
      `${dir} holds Kubespray v${version}, not ${settings.kubesprayVersion}`,
      installHint(settings, dir),
    );
  return undefined;
}

/** `ansible-playbook` of the configured venv, of `<dir>/.venv`, or from PATH. */
export function findAnsiblePlaybook(settings: KubesprayFacts, dir: string): string {
  const venv = settings.venv ?? (existsSync(join(dir, ".venv")) ? join(dir, ".venv") : undefined);
  return venv === undefined ? "ansible-playbook" : join(venv, "bin", "ansible-playbook");
}

/** An ansible-core that does not run, or is outside the range the release requires. */
function ansibleProblem(
  settings: KubesprayFacts,
  dir: string,
  ansiblePlaybook: string,
): Issue | undefined {
  const venv = join(dir, ".venv");
  const fix =
    `install the release's requirements: python3 -m venv ${venv} && ` +
    `${venv}/bin/pip install -r ${join(dir, "requirements.txt")} (or npm run kubespray:install)`;
  const out = spawnSync(ansiblePlaybook, ["--version"], { encoding: "utf8" });
  if (out.error || out.status !== 0)
    return issue("kubespray.venv", `cannot run ${ansiblePlaybook}`, fix);
  const version = /core ([0-9]+\.[0-9]+\.[0-9]+)/.exec(out.stdout)?.[1];
  const { min, max } = settings.ansibleCore;
  if (!version || semver.lt(version, min) || semver.gte(version, max))
    return issue(
      "kubespray.venv",
      `Kubespray ${settings.kubesprayVersion} needs ansible-core >= ${min} and < ${max}, ` +
        `${ansiblePlaybook} is ${version ?? "unknown"}`,
      fix,
    );
  return undefined;
}

/**
 * What keeps the checkout at `dir` from running the release: none, the checkout's problem,
 * or that of the Ansible it would run (`ansiblePlaybook`).
 */
export function checkoutProblems(
  settings: KubesprayFacts,
  dir: string,
  ansiblePlaybook: string = findAnsiblePlaybook(settings, dir),
): Issue[] {
  const problem = checkoutProblem(settings, dir) ?? ansibleProblem(settings, dir, ansiblePlaybook);
  return problem === undefined ? [] : [problem];
}
