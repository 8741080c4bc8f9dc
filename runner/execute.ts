/** Starting the commands: what each mode needs (checked first), and one process at a time. */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

import { UserError } from "../errors/user-error";
import { checkoutProblems, findAnsiblePlaybook } from "../lib/kubespray/checkout";
import type { Command, CommandContext, RunnerSettings } from "../lib/kubespray/commands";
import { parseInventory } from "../lib/kubespray/inventory";
import { expandHome } from "../lib/kubespray/project";

import type { RunnerEnv } from "./env";

function containerEngine(env: RunnerEnv): string {
  if (env.containerEngine) return env.containerEngine;
  for (const engine of ["docker", "podman"])
    if (!spawnSync(engine, ["--version"]).error) return engine;
  throw UserError.at(
    "kubespray.mode",
    "container mode needs docker or podman, and neither is on PATH",
    "install one of them, or use mode run",
  );
}

/** Checks what the mode needs and returns how to build its commands. */
export function prepare(
  settings: RunnerSettings,
  env: RunnerEnv,
  hostsFile: string,
): CommandContext {
  const dir = expandHome(settings.kubesprayDir);
  const inventory = parseInventory(readFileSync(hostsFile, "utf8"));
  let ansiblePlaybook = "ansible-playbook";
  if (settings.mode === "run") {
    ansiblePlaybook = findAnsiblePlaybook(settings, dir);
    const problems = checkoutProblems(settings, dir, ansiblePlaybook);
    if (problems.length > 0) throw new UserError(problems);
  } else if (settings.mode === "print") {
    ansiblePlaybook = findAnsiblePlaybook(settings, dir);
  }
  return {
    settings,
    kubesprayDir: dir,
    hostsFile,
    extraInventories: env.extraInventories,
    ansiblePlaybook,
    sshPrivateKeyFile: expandHome(inventory.sshPrivateKeyFile),
    containerEngine: settings.mode === "container" ? containerEngine(env) : undefined,
    hostCount: inventory.hosts.length,
  };
}

/** Runs one command, streaming its output; rejects when it fails. */
export function execute(command: Command, log: (line: string) => void): Promise<void> {
  log(`running ${command.label}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command.argv[0], command.argv.slice(1), {
      cwd: command.cwd,
      stdio: "inherit",
    });
    child.once("error", (e) =>
      reject(
        UserError.at(
          command.argv[0],
          `cannot start it (${e.message})`,
          "check that it is installed",
        ),
      ),
    );
    child.once("exit", (code, signal) =>
      code === 0
        ? resolve()
        : reject(
            UserError.at(
              command.label,
              `failed (${signal ?? `exit ${code}`}); the record is unchanged, so the next deploy retries`,
              'see Ansible\'s output above and docs/operations.md, "A failed Kubespray run"',
            ),
          ),
    );
  });
}
