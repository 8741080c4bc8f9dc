/** The runner's preflight checks: the pinned Kubespray release, Ansible's version, SSH. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

import semver from "semver";
import { parse } from "yaml";

import { UserError } from "../../errors/user-error";

import type { RunnerSettings } from "./commands";

const installHint = (s: KubesprayFacts, dir: string) =>
  `run: npm run kubespray:install -- --dir ${dir} --version ${s.kubesprayVersion}`;

/** Refuses a Kubespray directory that is missing or holds another release. */
/** What the checks read of the runner's settings (preflight has no more than this). */
export type KubesprayFacts = Pick<RunnerSettings, "kubesprayVersion" | "venv" | "ansibleCore">;

export function checkKubesprayDir(settings: KubesprayFacts, dir: string): void {
  const galaxy = join(dir, "galaxy.yml");
  if (!existsSync(galaxy))
    throw UserError.at(
      "kubespray.dir",
      `${dir} is not a Kubespray checkout (no galaxy.yml)`,
      installHint(settings, dir),
    );
  const version = String((parse(readFileSync(galaxy, "utf8")) as { version?: unknown }).version);
  if (`v${version}` !== settings.kubesprayVersion)
    throw UserError.at(
      "kubespray.dir",
      `${dir} holds Kubespray v${version}, not ${settings.kubesprayVersion}`,
      installHint(settings, dir),
    );
}

/** `ansible-playbook` of the configured venv, of `<dir>/.venv`, or from PATH. */
export function findAnsiblePlaybook(settings: KubesprayFacts, dir: string): string {
  const venv = settings.venv ?? (existsSync(join(dir, ".venv")) ? join(dir, ".venv") : undefined);
  return venv === undefined ? "ansible-playbook" : join(venv, "bin", "ansible-playbook");
}

/** Refuses an ansible-core outside the range the release requires. */
export function checkAnsible(settings: KubesprayFacts, dir: string, ansiblePlaybook: string): void {
  const venv = join(dir, ".venv");
  const fix =
    `install the release's requirements: python3 -m venv ${venv} && ` +
    `${venv}/bin/pip install -r ${join(dir, "requirements.txt")} (or npm run kubespray:install)`;
  const out = spawnSync(ansiblePlaybook, ["--version"], { encoding: "utf8" });
  if (out.error || out.status !== 0)
    throw UserError.at("kubespray.venv", `cannot run ${ansiblePlaybook}`, fix);
  const version = /core ([0-9]+\.[0-9]+\.[0-9]+)/.exec(out.stdout)?.[1];
  const { min, max } = settings.ansibleCore;
  if (!version || semver.lt(version, min) || semver.gte(version, max))
    throw UserError.at(
      "kubespray.venv",
      `Kubespray ${settings.kubesprayVersion} needs ansible-core >= ${min} and < ${max}, ` +
        `${ansiblePlaybook} is ${version ?? "unknown"}`,
      fix,
    );
}

/** One TCP connection attempt. */
export function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Waits until every host accepts a TCP connection on the SSH port. */
export async function waitForSsh(
  hosts: readonly { name: string; address: string }[],
  port: number,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...hosts];
  while (pending.length > 0) {
    const results = await Promise.all(
      pending.map((h) => canConnect(h.address, port, Math.min(5000, timeoutMs))),
    );
    pending = pending.filter((_, i) => !results[i]);
    if (pending.length === 0) return;
    if (Date.now() >= deadline)
      throw UserError.at(
        pending.map((h) => h.name).join(", "),
        `no SSH answer on port ${port} from ${pending.map((h) => `${h.name} (${h.address})`).join(", ")} ` +
          `after ${Math.round(timeoutMs / 1000)} s`,
        'check that the VM runs and its network (docs/operations.md, "An unreachable node")',
      );
    log(`waiting for SSH on ${pending.map((h) => h.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
