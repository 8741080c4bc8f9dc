import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { formatIssue } from "../../errors/user-error";
import { erroredStates, leftBefore, leftByThisApply } from "../../lib/errored-state";

const AT = "PostgreSQL at db.home.lan:5432/kspray_state as user kspray";

describe("errored.tfstate left by an apply that could not save its state", () => {
  let outdir: string;
  beforeEach(() => {
    outdir = mkdtempSync(join(tmpdir(), "errored-"));
    for (const stack of ["vms", "cluster", "addons"])
      mkdirSync(join(outdir, "stacks", stack), { recursive: true });
  });
  afterEach(() => rmSync(outdir, { recursive: true, force: true }));

  it("finds it in each stack's directory, and only there", () => {
    expect(erroredStates(outdir, ["vms", "cluster", "addons"])).toEqual([]);
    writeFileSync(join(outdir, "stacks", "vms", "errored.tfstate"), "{}");
    writeFileSync(join(outdir, "errored.tfstate"), "{}");
    expect(erroredStates(outdir, ["vms", "cluster", "addons"])).toEqual([
      { stack: "vms", file: join(outdir, "stacks", "vms", "errored.tfstate") },
    ]);
  });

  it("says after the apply where the state went, the database, what it answers now, the fix", () => {
    const line = formatIssue(
      leftByThisApply("vms", "cdktf.out/stacks/vms/errored.tfstate", {
        at: AT,
        now: "the connection was refused (ECONNREFUSED)",
      }),
    );
    expect(line).toBe(
      `cdktf.out/stacks/vms/errored.tfstate: OpenTofu could not save the vms stack's state in ${AT} at the end of this apply (now: the connection was refused (ECONNREFUSED)), and wrote it to this file, encrypted like the state: it holds what the apply did, the database the state from before; once the database answers, push this file before anything else deploys the vms stack, as docs/operations.md, "When the database goes away during a deploy" shows; then npm run diff shows no change for vms`,
    );
  });

  it("says before a deploy why it does not start", () => {
    const line = formatIssue(leftBefore("cluster", "f", { at: AT, now: undefined }));
    expect(line).toMatch(
      new RegExp(
        `^f: an earlier apply of the cluster stack could not save its state in ${AT} and left it here, while .* a deploy or destroy now would do again what that apply did; once the database answers, push this file`,
      ),
    );
  });
});
