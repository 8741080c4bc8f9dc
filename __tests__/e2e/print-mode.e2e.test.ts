/**
 * Removing a node in `print` mode, following the runbook ("Removing nodes" in
 * docs/operations.md) as a user would: `npm run deploy` stops before the VM goes, with the
 * steps; the printed script (run with the stand-in Kubespray and the real Ansible) removes
 * the node and takes it out of the record; the same deploy then deletes the VM and runs no
 * playbook.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { readRecord, statePaths } from "../../lib/kubespray/record";
import type { Definition } from "../fixtures/definitions";
import { homelab } from "../fixtures/definitions";
import { ANSIBLE_VENV, STANDIN } from "../support/ansible";

import type { E2eEnvironment } from "./support/harness";
import { describeE2e, expectSuccess, oneLine, run, startEnvironment } from "./support/harness";

const REMOVED = "kspray-worker-3";

/** The playbooks the stand-in Kubespray ran, in order (fixtures/kubespray-standin/record.yml). */
function playbooks(log: string): string[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const call = JSON.parse(l) as { playbook: string; extra_vars?: Record<string, unknown> };
      const node = call.extra_vars?.node;
      return node ? `${call.playbook} -e node=${String(node)}` : call.playbook;
    });
}

describeE2e("removing a node in print mode, as the runbook says", () => {
  jest.setTimeout(900_000);
  let env: E2eEnvironment;
  let listener: Server;
  let kubesprayDir: string;
  let log: string;

  /** The definition with Kubespray in print mode, at a copy of the stand-in. */
  const inPrintMode = (definition: Definition): Definition => ({
    ...definition,
    kubespray: { dir: kubesprayDir, venv: ANSIBLE_VENV, mode: "print" },
  });

  /** What the user runs where Kubespray runs: the printed script. */
  const runPrintedScript = async () =>
    expectSuccess(
      await run("sh", [statePaths(env.stateDir).printScript], {
        cwd: kubesprayDir,
        env: env.env(),
        timeoutMs: 300_000,
      }),
      "the printed script",
    );

  beforeAll(async () => {
    kubesprayDir = mkdtempSync(join(tmpdir(), "kubespray-standin-"));
    cpSync(STANDIN, kubesprayDir, { recursive: true });
    log = join(kubesprayDir, "calls.jsonl");
    // Every SSH check of the runner goes to a loopback port that accepts and hangs up.
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    env = await startEnvironment({
      definition: inPrintMode(homelab()),
      seed: "homelab",
      double: { cloneDurationMs: 50, taskDurationMs: 20, agentDelayMs: 200 },
      env: {
        KSPRAY_STANDIN_LOG: log,
        KSPRAY_SSH_HOST: "127.0.0.1",
        KSPRAY_SSH_PORT: String((listener.address() as AddressInfo).port),
        KSPRAY_NODE_PREP_PLAYBOOK: join(kubesprayDir, "node-prep.yml"),
      },
    });
    env.extraEnv.KSPRAY_STANDIN_PVE_STATE = `${env.double.endpoint}_double/state`;
  });
  afterAll(async () => {
    await env.stop();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    if (!process.env.KEEP_E2E_DIR) rmSync(kubesprayDir, { recursive: true, force: true });
  });

  it("the cluster, built through the printed script", async () => {
    expectSuccess(await env.npmRun("deploy", ["vms", "cluster"]), "npm run deploy");
    await runPrintedScript();
    expect(playbooks(log)).toEqual(["node-prep.yml", "cluster.yml"]);
    expect(readRecord(env.stateDir)?.hosts.map((h) => h.name)).toContain(REMOVED);
  });

  it("lowering the count: the deploy stops before the VM goes, saying what to do", async () => {
    const definition = env.definition;
    definition.nodePools.find((p: { name: string }) => p.name === "worker").count = 2;
    env.writeDefinition(inPrintMode(definition));
    const deploy = await env.npmRun("deploy", ["vms", "cluster"]);
    expect(deploy.status).not.toBe(0);
    // tofu wraps the provisioner's output in a box of its own.
    const said = oneLine(deploy.output.replace(/[│╷╵]/g, " "));
    expect(said).toContain(
      oneLine(
        `${REMOVED}: kubespray.mode is print, so nothing here removes it from the cluster and the deploy stops before deleting its VM; ` +
          `1. run ${statePaths(env.stateDir).printScript} where Kubespray runs (remove-node.yml -e node=${REMOVED}, then forget-node takes it out of the record), ` +
          `2. run the same deploy again: it deletes the VM`,
      ),
    );
    expect(env.clusterVms().map((v) => v.config.name)).toContain(REMOVED);
  });

  it("step 1, the printed script: remove-node.yml, then the node leaves the record", async () => {
    const before = playbooks(log).length;
    await runPrintedScript();
    expect(playbooks(log).slice(before)).toEqual([`remove-node.yml -e node=${REMOVED}`]);
    expect(readRecord(env.stateDir)?.hosts.map((h) => h.name)).not.toContain(REMOVED);
    expect(env.clusterVms().map((v) => v.config.name)).toContain(REMOVED);
  });

  it("step 2, the same deploy: the VM is deleted, no playbook runs", async () => {
    const before = playbooks(log).length;
    const deploy = expectSuccess(
      await env.npmRun("deploy", ["vms", "cluster"]),
      "npm run deploy, again",
    );
    expect(deploy.output).toContain("no playbook to run");
    expect(
      env
        .clusterVms()
        .map((v) => v.config.name)
        .sort(),
    ).toEqual(["kspray-cp-1", "kspray-cp-2", "kspray-cp-3", "kspray-worker-1", "kspray-worker-2"]);
    expect(playbooks(log).slice(before)).toEqual([]);
  });
});
