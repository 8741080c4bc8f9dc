/**
 * `npm run demo`, as a new user runs it after `npm ci`: the double, preflight, a deploy of
 * the bundled example with Kubespray in print mode, a worker added and reviewed, teardown.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { REPO_ROOT } from "../support/toolchain";

import { describeE2e, expectSuccess, run } from "./support/harness";

describeE2e("npm run demo", () => {
  it("runs the whole job on the embedded default and leaves no VM behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "demo-"));
    try {
      const base = { ...process.env };
      for (const k of Object.keys(base))
        if (k.startsWith("PROXMOX_VE_") || k.startsWith("TF_VAR_") || k === "CLUSTER_CONFIG")
          delete base[k];
      const demo = expectSuccess(
        await run("npm", ["run", "--silent", "demo"], {
          cwd: REPO_ROOT,
          env: { ...base, DEMO_DIR: dir },
          timeoutMs: 600_000,
        }),
        "npm run demo",
      );
      const lines = demo.stdout.split("\n");
      expect(lines.filter((l) => /^\[\d\/7\] /.test(l))).toHaveLength(7);
      expect(lines).toContain("    ready to deploy");
      // cdktf names the stack only on the first line of a burst of output.
      expect(demo.stdout).toMatch(/Apply complete! Resources: 12 added/);
      expect(lines).toContain(
        "    Kubespray will run: playbooks/facts.yml; scale.yml --limit=kspray-worker-4",
      );
      expect(lines).toContain("    VMs of kspray left in the double: 0");
      expect(lines).toContain(`    Terraform state     ${dir}/state/{vms,cluster,addons}.tfstate`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
