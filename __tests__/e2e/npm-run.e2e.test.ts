/**
 * The npm scripts as a user runs them (`npm run deploy|diff|destroy`, through
 * scripts/cdktf.sh and scripts/review.ts) against the Proxmox VE double, one cluster's vms
 * stack through its life: what they leave on disk, and what they say to a wrong token.
 */
import { chmodSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

import { homelab } from "../fixtures/definitions";

import type { E2eEnvironment } from "./support/harness";
import { describeE2e, expectSuccess, startEnvironment } from "./support/harness";

const mode = (path: string): number => statSync(path).mode & 0o777;

/** Every file and folder under `dir` that someone other than its owner may read or enter. */
function readableByOthers(dir: string): string[] {
  const found = mode(dir) & 0o077 ? [`${dir} ${mode(dir).toString(8)}`] : [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...readableByOthers(path));
    else if (mode(path) & 0o077) found.push(`${path} ${mode(path).toString(8)}`);
  }
  return found;
}

describeE2e("npm run deploy, diff and destroy, as a user runs them", () => {
  jest.setTimeout(600_000);
  let env: E2eEnvironment;

  beforeAll(async () => {
    env = await startEnvironment({ definition: homelab(), seed: "homelab" });
  });
  afterAll(async () => {
    await env.stop();
  });

  it("npm run deploy keeps the state its owner's alone: folder 0700, files 0600", async () => {
    expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms");
    expect(env.clusterVms()).toHaveLength(6);
    expect(mode(env.stateDir)).toBe(0o700);
    expect(mode(join(env.stateDir, "vms.tfstate"))).toBe(0o600);
    expect(readableByOthers(env.stateDir)).toEqual([]);
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

  it("npm run deploy makes a state an earlier version left readable its owner's alone", async () => {
    chmodSync(env.stateDir, 0o755);
    chmodSync(join(env.stateDir, "vms.tfstate"), 0o644);
    expectSuccess(await env.npmRun("deploy", ["vms"]), "npm run deploy -- vms, once more");
    expect(mode(env.stateDir)).toBe(0o700);
    expect(mode(join(env.stateDir, "vms.tfstate"))).toBe(0o600);
    expect(readableByOthers(env.stateDir)).toEqual([]);
  });

  it("npm run destroy leaves nothing behind", async () => {
    expectSuccess(await env.npmRun("destroy", ["vms"]), "npm run destroy -- vms");
    expect(env.clusterVms()).toEqual([]);
    expect(readableByOthers(env.stateDir)).toEqual([]);
  });
});
