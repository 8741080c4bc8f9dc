import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ROOT, STANDIN } from "../support/ansible";

/** A local bare repository holding the stand-in, tagged like the release. */
function localRelease(): string {
  const tmp = mkdtempSync(join(tmpdir(), "kubespray-repo-"));
  const work = join(tmp, "work");
  cpSync(STANDIN, work, { recursive: true });
  const git = (cwd: string, ...args: string[]) => {
    const r = spawnSync("git", args, { cwd, encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  };
  git(work, "init", "-q");
  git(work, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".");
  git(work, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "stand-in");
  git(work, "tag", "v2.31.0");
  git(tmp, "clone", "-q", "--bare", work, join(tmp, "kubespray.git"));
  return join(tmp, "kubespray.git");
}

describe("npm run kubespray:install", () => {
  jest.setTimeout(300_000);
  it("clones the pinned release and refuses a directory of another release", () => {
    const url = localRelease();
    const dir = join(mkdtempSync(join(tmpdir(), "kubespray-dir-")), "kubespray");
    // PYTHON=false: skip the venv (pip would need PyPI); the clone is what is tested here.
    const r = spawnSync(
      "bash",
      [join(ROOT, "scripts", "kubespray-install.sh"), "--dir", dir, "--url", url],
      {
        encoding: "utf8",
        env: { ...process.env, PYTHON: "false" },
      },
    );
    expect(r.stdout).toContain(`cloned Kubespray v2.31.0 into ${dir}`);
    expect(readFileSync(join(dir, "galaxy.yml"), "utf8")).toMatch(/version: 2\.31\.0/);
    expect(existsSync(join(dir, "cluster.yml"))).toBe(true);
    const again = spawnSync(
      "bash",
      [
        join(ROOT, "scripts", "kubespray-install.sh"),
        "--dir",
        dir,
        "--version",
        "v2.30.0",
        "--url",
        url,
      ],
      {
        encoding: "utf8",
        env: { ...process.env, PYTHON: "false" },
      },
    );
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${dir} holds Kubespray v2.31.0, not v2.30.0`);
  });
});
