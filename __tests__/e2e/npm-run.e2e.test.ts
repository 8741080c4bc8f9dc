/**
 * The npm scripts as a user runs them (`npm run deploy|diff|destroy`, through
 * scripts/cdktf.sh and scripts/review.ts) against the Proxmox VE double, one cluster's vms
 * stack through its life: what they say to a wrong token.
 */
import { homelab } from "../fixtures/definitions";

import type { E2eEnvironment } from "./support/harness";
import { describeE2e, expectSuccess, startEnvironment } from "./support/harness";

describeE2e("npm run deploy, diff and destroy, as a user runs them", () => {
  jest.setTimeout(600_000);
  let env: E2eEnvironment;

  beforeAll(async () => {
    env = await startEnvironment({ definition: homelab(), seed: "homelab" });
  });
  afterAll(async () => {
    await env.stop();
  });

  it("npm run deploy makes the VMs", async () => {
    expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms");
    expect(env.clusterVms()).toHaveLength(6);
  });

  it("npm run diff with a wrong token says so once, before anything plans", async () => {
    const wrong = `${env.double.token.split("=")[0]}=not-the-secret`;
    const refused = await env.npmRun("diff", ["vms"], { env: { PROXMOX_VE_API_TOKEN: wrong } });
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^PROXMOX_VE_API_TOKEN: Proxmox refuses the token \(401 [^)]*\); check its user, token ID and secret; /,
      ),
    ]);
    expect(refused.stdout).toBe("");
    // With the right one, the review plans: the VMs are there, nothing to change.
    const review = await env.npmRun("diff", ["vms"]);
    expect({ status: review.status, stdout: review.stdout }).toEqual({
      status: 0,
      stdout: expect.stringMatching(/^vms: no changes$/m),
    });
  });

  it("npm run destroy leaves nothing behind", async () => {
    expectSuccess(await env.npmRun("destroy", ["vms"]), "npm run destroy -- vms");
    expect(env.clusterVms()).toEqual([]);
  });
});
