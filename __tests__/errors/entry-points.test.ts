/**
 * The entry points' own argument errors come out as every UserError does: one line
 * `what: problem; fix`, exit 2, no stack trace (issue 18: one error type, one exit code).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { EXIT_USER_ERROR } from "../../errors/user-error";
import { REPO_ROOT } from "../support/toolchain";

/** Runs a TypeScript entry point as `npm run` does, without a terminal. */
function run(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [require.resolve("tsx/cli"), script, ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: {
      ...process.env,
      CLUSTER_CONFIG: join(REPO_ROOT, "examples", "homelab.yaml"),
      ...env,
    },
  });
  return { status: r.status, stderr: r.stderr };
}

describe("the entry points' argument errors", () => {
  // Each case starts a Node process through tsx: seconds each on a busy machine.
  jest.setTimeout(60_000);

  it("npm run host without a host or with a bad timeout", () => {
    expect(run("scripts/host.ts", ["drain"])).toEqual({
      status: EXIT_USER_ERROR,
      stderr:
        "npm run host: not a host command: drain; usage: npm run host -- drain HOST [--timeout SECONDS] | resume HOST\n",
    });
    // A kubeconfig that loads (nothing is contacted before the timeout is read).
    const kubeconfig = join(mkdtempSync(join(tmpdir(), "host-args-")), "admin.conf");
    writeFileSync(
      kubeconfig,
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    );
    expect(
      run("scripts/host.ts", ["drain", "pve02", "--timeout", "soon"], { KUBECONFIG: kubeconfig }),
    ).toEqual({
      status: EXIT_USER_ERROR,
      stderr:
        '--timeout: "soon" is not a number of seconds; usage: npm run host -- drain HOST [--timeout SECONDS] | resume HOST\n',
    });
  });

  it("npm run replace with a bad option, no node, or a node the cluster does not have", () => {
    const usage =
      "usage: npm run replace -- [--dry-run] [--auto-approve] [--drain-timeout SECONDS] [--ready-timeout SECONDS] [--skip-preflight] NODE...";
    expect(run("scripts/replace.ts", ["--ready-timeout", "soon", "kspray-worker-1"])).toEqual({
      status: EXIT_USER_ERROR,
      stderr: `--ready-timeout: "soon" is not a number of seconds; ${usage}\n`,
    });
    expect(run("scripts/replace.ts", ["--now", "kspray-worker-1"])).toEqual({
      status: EXIT_USER_ERROR,
      stderr: `--now: not an option of npm run replace; ${usage}\n`,
    });
    // A state directory without a record: no node is part of a cluster yet.
    const state = mkdtempSync(join(tmpdir(), "replace-args-"));
    expect(run("scripts/replace.ts", [], { STATE_DIR: state })).toEqual({
      status: EXIT_USER_ERROR,
      stderr:
        "npm run replace: no node named; name the nodes whose VMs to make anew: npm run replace -- NODE... (--dry-run shows the order)\n",
    });
    expect(run("scripts/replace.ts", ["kspray-worker-1"], { STATE_DIR: state })).toEqual({
      status: EXIT_USER_ERROR,
      stderr:
        "kspray-worker-1: is not part of the cluster Kubespray built, so there is nothing to drain or remove; let a deploy make its VM anew: DESTROYABLE_NODES=kspray-worker-1 npm run deploy -- vms cluster\n",
    });
  });

  it("the runner's commands without their operands", () => {
    for (const command of ["snapshot", "rollback"]) {
      const r = run("runner/cli.ts", [command]);
      expect({ command, ...r }).toEqual({
        command,
        status: EXIT_USER_ERROR,
        stderr: expect.stringMatching(
          new RegExp(
            `^\\[kubespray-runner\\] error: cli\\.js: ${command} without the operands it needs: ${command}; usage: cli\\.js apply\\|record`,
          ),
        ),
      });
    }
  });
});
