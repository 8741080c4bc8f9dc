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
