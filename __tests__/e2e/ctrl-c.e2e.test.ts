/**
 * Ctrl-C during `npm run deploy`, as a terminal sends it (SIGINT to the whole foreground
 * job: npm, scripts/cdktf.sh, cdktf, OpenTofu, the provider) while Proxmox clones: the
 * deploy says what was cut off and what to run next, leaves no stale lock record, and the
 * command it names converges.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import { homelab } from "../fixtures/definitions";

import { describeE2e, expectSuccess, startEnvironment } from "./support/harness";

describeE2e("Ctrl-C during npm run deploy", () => {
  jest.setTimeout(600_000);

  it("says what was interrupted and what to run next, and leaves no stale lock", async () => {
    const env = await startEnvironment({
      definition: homelab(),
      seed: "homelab",
      // Slow clones, so that Ctrl-C comes in the middle of them.
      double: { cloneDurationMs: 3000, taskDurationMs: 50, agentDelayMs: 100 },
    });
    try {
      const interrupted = await env.npmRun("deploy", ["vms"], {
        interruptWhen: () => env.clusterVms().some((v) => v.lock === "clone"),
      });
      expect(interrupted.status).not.toBe(0);
      expect(interrupted.stderr).toContain(
        'npm run deploy -- vms: interrupted while OpenTofu worked on vms; run it again: it adopts the VMs Proxmox went on making and runs what was cut off once more (docs/operations.md, "An interrupted deploy")',
      );
      // The record a stopped OpenTofu leaves is gone, and the deploy said so (cdktf kills
      // OpenTofu; one that had let go in time would have removed its record itself).
      const record = join(env.stateDir, ".vms.tfstate.lock.info");
      expect(existsSync(record)).toBe(false);
      const said = interrupted.stderr.split("\n").filter((l) => l.startsWith(`${record}: `));
      for (const line of said)
        expect(line).toBe(
          `${record}: the stopped OpenTofu left this record, and no process holds the lock of vms.tfstate any more; removed it`,
        );

      // What it said to run converges.
      expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms, again");
      const names = env.clusterVms().map((v) => v.config.name);
      expect(names.sort()).toEqual([
        "kspray-cp-1",
        "kspray-cp-2",
        "kspray-cp-3",
        "kspray-worker-1",
        "kspray-worker-2",
        "kspray-worker-3",
      ]);
    } finally {
      await env.stop();
    }
  });
});
