/**
 * A full deploy (`npm run deploy -- vms cluster`, scripts/cdktf.sh) with `state.backend: pg`
 * whose PostgreSQL goes away under it (docs/operations.md, "When the database goes away
 * during a deploy"): stopped while OpenTofu applies the vms stack (a clone in progress on the
 * Proxmox VE double), and stopped or its sessions ended (`pg_terminate_backend`) while the
 * runner writes the Kubespray record (the stand-in Kubespray in run mode, by the real
 * ansible-playbook). What the user keeps is asserted: the error says where the state went and
 * how to push it; after the documented recovery the next deploy converges with the same VMs
 * (vmgenid, MACs, disks), none twice, no Kubespray run repeated, the record the old or the
 * new one, and `npm run diff` shows no change.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { Status } from "../../scripts/status";
import { homelab } from "../fixtures/definitions";
import { describeWithAnsible } from "../support/ansible";
import type { Postgres } from "../support/postgres";
import { startPostgres } from "../support/postgres";
import { documentedRecovery } from "../support/runbooks";
import { REPO_ROOT } from "../support/toolchain";

import type { Call } from "./support/cluster-rig";
import { brief, ClusterRig } from "./support/cluster-rig";
import type { CommandResult, VmIdentity } from "./support/harness";
import { describeE2e, expectSuccess, oneLine, run } from "./support/harness";

// Every test deploys with OpenTofu, Ansible and PostgreSQL on a loaded two-core machine.
jest.setTimeout(600_000);
const BUDGET_MS = 600_000;

const PASSPHRASE = `passphrase-${randomBytes(12).toString("hex")}`;
const PG_PASSWORD = `pw${randomBytes(12).toString("hex")}`;
const DEPLOY = ["vms", "cluster", "--skip-preflight"];
const RECORD_TABLE = "kspray_cluster.kubespray_last_run";
/** A stack trace's frame, which a user never sees for a fault of the environment. */
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

/** Polls `check` until it holds; fails naming `what` after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeE2e("a deploy whose PostgreSQL goes away", () => {
  describeWithAnsible("homelab, state in PostgreSQL, the stand-in Kubespray run", () => {
    let pg: Postgres;
    let rig: ClusterRig;
    let at = "";

    beforeAll(async () => {
      pg = await startPostgres();
      pg.sql("postgres", `CREATE ROLE team LOGIN PASSWORD '${PG_PASSWORD}'`);
      pg.createDatabase("team_state");
      pg.sql("postgres", "ALTER DATABASE team_state OWNER TO team");
      at = `PostgreSQL at 127.0.0.1:${pg.port}/team_state as user team`;
      const definition = homelab();
      definition.addons = {};
      definition.state = { backend: "pg" };
      rig = await ClusterRig.start(
        definition,
        "homelab",
        {
          PG_CONN_STR: `postgres://team:${PG_PASSWORD}@127.0.0.1:${pg.port}/team_state?sslmode=disable`,
          TF_VAR_state_passphrase: PASSPHRASE,
          KSPRAY_PG_RETRY_SECONDS: "180",
        },
        // Clones slow enough to stop the database while one is in progress.
        { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100 },
      );
    }, BUDGET_MS);

    afterAll(async () => {
      await rig?.stop();
      pg?.stop();
    }, BUDGET_MS);

    /** Whether a test stopped the server and has not started it again (it failed meanwhile). */
    let halted = false;
    afterEach(() => {
      if (halted) pg.resume();
      halted = false;
    }, BUDGET_MS);

    const deploy = (): Promise<{ result: CommandResult; calls: Call[] }> =>
      rig.callsOf(() => rig.env.npmRun("deploy", DEPLOY));
    const storedAction = () =>
      pg.sql("team_state", `SELECT record->>'action' FROM ${RECORD_TABLE}`).trim();
    const snapshot = () => rig.env.vmIdentities();

    /** No secret, no stack trace in what a command printed. */
    function expectClean(result: CommandResult): void {
      expect(result.output).not.toContain(PG_PASSWORD);
      expect(result.output).not.toContain(PASSPHRASE);
      expect(result.output).not.toMatch(STACK_FRAME);
    }

    /** The same VMs by name (vmgenid, MACs, disks), none deleted since request `from`. */
    function expectSameVms(before: Record<string, VmIdentity>, from: number): void {
      expect(rig.env.deletedVms(from)).toEqual([]);
      const after = snapshot();
      for (const [name, identity] of Object.entries(before))
        expect({ name, identity: after[name] }).toEqual({ name, identity });
    }

    /** Every VM of the cluster once, by name and by ID. */
    function expectNoDuplicates(count: number): void {
      const vms = rig.env.clusterVms();
      expect(new Set(vms.map((v) => v.config.name)).size).toBe(vms.length);
      expect(new Set(vms.map((v) => v.vmid)).size).toBe(vms.length);
      expect(vms).toHaveLength(count);
    }

    /** `npm run diff` of the deployed stacks: no change, exit 0. */
    async function expectNoChanges(): Promise<void> {
      const review = await rig.review("vms", "cluster");
      expect({ status: review.status, out: review.stdout }).toMatchObject({ status: 0 });
      expect(review.stdout).toContain("vms: no changes\ncluster: no changes\n");
    }

    it(
      "stopped while OpenTofu applies the vms stack: errored.tfstate named, pushed as documented, the next deploy converges",
      async () => {
        const deploying = deploy();
        await until(
          () => rig.env.clusterVms().some((v) => v.lock === "clone"),
          300_000,
          "a clone in progress",
        );
        pg.halt();
        halted = true;
        const { result: failed, calls: failedCalls } = await deploying;
        // Nothing of the cluster stack ran: Kubespray did not start.
        expect(failedCalls).toEqual([]);
        expect({ status: failed.status, output: failed.output }).toMatchObject({ status: 2 });
        expectClean(failed);
        // What the runbook quotes.
        process.stdout.write(
          `pg-faults e2e: the deploy said:\n${failed.output
            .split("\n")
            .filter((l) =>
              /Error saving state|Failed to save state|Error releasing the state lock|errored\.tfstate/.test(
                l,
              ),
            )
            .join("\n")}\n`,
        );
        const errored = join(rig.env.stackDir("vms"), "errored.tfstate");
        expect(existsSync(errored)).toBe(true);
        // OpenTofu's own words, then ours: the file, the database, what it answers, the fix.
        const said = oneLine(failed.output);
        expect(said).toContain("Failed to save state");
        expect(said).toContain(
          `${errored}: OpenTofu could not save the vms stack's state in ${at} at the end of this apply (now: the connection was refused, nothing listens on 127.0.0.1:${pg.port} (ECONNREFUSED)), and wrote it to this file`,
        );
        expect(said).toContain(
          'as docs/operations.md, "When the database goes away during a deploy" shows',
        );

        // Proxmox finishes the clones the apply started.
        await until(
          () => rig.env.clusterVms().every((v) => v.lock === undefined),
          120_000,
          "clones finished",
        );
        const made = snapshot();
        const requests = rig.env.double.requests().length;
        // A deploy before the push is refused before anything runs: it would fork the state.
        const refused = await rig.env.npmRun("deploy", DEPLOY);
        expect({ status: refused.status, output: refused.output }).toMatchObject({ status: 2 });
        expectClean(refused);
        expect(oneLine(refused.output)).toContain(
          `${errored}: an earlier apply of the vms stack could not save its state in ${at} and left it here`,
        );
        expect(rig.env.double.requests().length).toBe(requests);
        // npm run diff too: its plans would be against the state from before that apply.
        const review = await rig.review("vms", "cluster");
        expect({ status: review.status, output: review.output }).toMatchObject({ status: 2 });
        expect(oneLine(review.output)).toContain(
          `${errored}: an earlier apply of the vms stack could not save its state in ${at} and left it here`,
        );

        // The database is back. npm run status names the file first and reviews nothing
        // against the state from before that apply.
        pg.resume();
        halted = false;
        const status = expectSuccess(
          await rig.status("--no-cluster", "--json"),
          "npm run status with errored.tfstate",
        );
        const shown = JSON.parse(status.stdout) as Status;
        expect(shown.unsavedStates).toEqual([
          expect.stringContaining(
            `${errored}: an earlier apply of the vms stack could not save its state in ${at} and left it here`,
          ),
        ]);
        expect({ review: shown.review, error: shown.reviewError }).toEqual({
          review: [],
          error: "not reviewed: a stack's state was not saved (above); push it first",
        });

        // The documented push, as written there.
        const recovery = await run(
          "bash",
          ["-euo", "pipefail", "-c", documentedRecovery(rig.env.stackDir("vms"))],
          { cwd: REPO_ROOT, env: rig.env.env(), timeoutMs: 300_000 },
        );
        expect({ status: recovery.status, stderr: recovery.stderr }).toEqual({
          status: 0,
          stderr: "",
        });
        expect(existsSync(errored)).toBe(false);

        const from = rig.env.double.requests().length;
        const { result: next, calls } = await deploy();
        expectSuccess(next, "the deploy after the push");
        expect(brief(calls)).toEqual(["node-prep.yml", "cluster.yml"]);
        expectNoDuplicates(6);
        expectSameVms(made, from);
        expect(storedAction()).toBe("cluster.yml");
        await expectNoChanges();
      },
      BUDGET_MS,
    );

    /**
     * A deploy adding worker `worker` (scale.yml), in which `fault` strikes once the runner's
     * write of the record waits: another session holds the record's table against writes
     * (reads go on) from the moment Kubespray starts (the runner has read the record by
     * then) until the fault ends it.
     */
    async function faultWhileRecordIsWritten(worker: string, fault: () => void) {
      rig.define((d) => (d.nodePools[1].count = Number(worker.split("-").pop())));
      const before = snapshot();
      const from = rig.env.double.requests().length;
      const oldAction = storedAction();
      const earlier = rig.calls().length;
      const deploying = deploy();
      await until(
        () =>
          rig
            .calls()
            .slice(earlier)
            .some((c) => c.playbook === "playbooks/facts.yml"),
        300_000,
        "Kubespray started (facts.yml)",
      );
      const holder = pg
        .sqlAsync(
          "team_state",
          `BEGIN; LOCK TABLE ${RECORD_TABLE} IN EXCLUSIVE MODE; SELECT pg_sleep(300); COMMIT;`,
        )
        .catch(() => "ended by the fault");
      await until(
        () =>
          pg
            .sql(
              "team_state",
              `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO%kubespray_last_run%'`,
            )
            .trim() === "1",
        300_000,
        "the runner's write of the record waiting",
      );
      // Until then the row is the old record.
      expect(storedAction()).toBe(oldAction);
      fault();
      await holder;
      const { result, calls } = await deploying;
      return { result, calls, before, from };
    }

    it(
      "its sessions ended (pg_terminate_backend) while the runner writes the record: stored once, no run repeated",
      async () => {
        const worker = "kspray-worker-4";
        const { result, calls, before, from } = await faultWhileRecordIsWritten(worker, () => {
          const ended = pg.sql(
            "team_state",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'team_state' AND pid <> pg_backend_pid()",
          );
          // The runner's, the table's holder, and OpenTofu's (its lock's among them).
          expect(Number(ended.trim())).toBeGreaterThanOrEqual(3);
        });
        expectSuccess(result, "the deploy whose sessions were ended");
        expectClean(result);
        expect(brief(calls)).toEqual([
          "playbooks/facts.yml",
          `node-prep.yml --limit=${worker}`,
          `scale.yml --limit=${worker}`,
        ]);
        expect(storedAction()).toBe(`playbooks/facts.yml; scale.yml --limit=${worker}`);
        expectNoDuplicates(7);
        expectSameVms(before, from);

        const { result: again, calls: none } = await deploy();
        expectSuccess(again, "the deploy after");
        expect(none).toEqual([]);
        await expectNoChanges();
      },
      BUDGET_MS,
    );

    it(
      "stopped and started again while the runner writes the record: stored once, no run repeated",
      async () => {
        const worker = "kspray-worker-5";
        const { result, calls, before, from } = await faultWhileRecordIsWritten(worker, () => {
          pg.halt();
          pg.resume();
        });
        expectSuccess(result, "the deploy whose database restarted");
        expectClean(result);
        expect(brief(calls)).toEqual([
          "playbooks/facts.yml",
          `node-prep.yml --limit=${worker}`,
          `scale.yml --limit=${worker}`,
        ]);
        expect(storedAction()).toBe(`playbooks/facts.yml; scale.yml --limit=${worker}`);
        expectNoDuplicates(8);
        expectSameVms(before, from);

        const { result: again, calls: none } = await deploy();
        expectSuccess(again, "the deploy after");
        expect(none).toEqual([]);
        await expectNoChanges();
      },
      BUDGET_MS,
    );
  });
});
