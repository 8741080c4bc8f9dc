/**
 * scripts/toolchain.sh's cache keys for the test cluster's control plane, on a copy of the
 * checkout whose .toolchain links to the built artifacts: an edit of a wrapper module makes
 * its binary outdated, and a pinned version that the module's go.mod does not require
 * stops the build before it starts, naming the fix.
 */
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { CONTROL_PLANE_DIR, hasControlPlane } from "../../test-cluster/binaries";
import { hasToolchain, REPO_ROOT, TOOLCHAIN_DIR } from "../support/toolchain";

// It starts processes (tsx, tofu, bash): a budget for a loaded two-core machine.
jest.setTimeout(120_000);

const built = hasControlPlane() && hasToolchain(["tofu", "helm"]);

(built ? describe : describe.skip)("toolchain.sh and the control plane's wrapper modules", () => {
  let root: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "toolchain-copy-"));
    mkdirSync(join(root, "scripts"));
    cpSync(join(REPO_ROOT, "scripts", "toolchain.sh"), join(root, "scripts", "toolchain.sh"));
    cpSync(join(REPO_ROOT, "test-cluster", "go"), join(root, "test-cluster", "go"), {
      recursive: true,
    });
    const toolchain = join(root, ".toolchain");
    for (const dir of ["bin", "control-plane"]) {
      mkdirSync(join(toolchain, dir), { recursive: true });
      const from = dir === "bin" ? join(TOOLCHAIN_DIR, "bin") : CONTROL_PLANE_DIR;
      for (const file of readdirSync(from))
        symlinkSync(join(from, file), join(toolchain, dir, file));
    }
    symlinkSync(join(TOOLCHAIN_DIR, "providers"), join(toolchain, "providers"));
    cpSync(join(TOOLCHAIN_DIR, "stamps"), join(toolchain, "stamps"), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const toolchain = (...args: string[]) =>
    spawnSync("bash", [join(root, "scripts", "toolchain.sh"), ...args], {
      encoding: "utf8",
      timeout: 60_000,
    });
  const line = (out: string, label: string) =>
    out.split("\n").find((l) => l.startsWith(label)) ?? `(no ${label} line)`;

  it("finds the built control plane up to date", () => {
    const r = toolchain("--check");
    expect(line(r.stdout, "kubernetes 1.35.4")).toMatch(/ ok$/);
    expect(line(r.stdout, "etcd 3.6.10")).toMatch(/ ok$/);
    expect(line(r.stdout, "kwok 0.8.0")).toMatch(/ ok$/);
  }, 60_000);

  it("an edited wrapper module makes only its binary outdated", () => {
    appendFileSync(join(root, "test-cluster", "go", "kube", "go.mod"), "// edited\n");
    const r = toolchain("--check");
    expect(line(r.stdout, "kubernetes 1.35.4")).toMatch(/MISSING or outdated$/);
    expect(line(r.stdout, "etcd 3.6.10")).toMatch(/ ok$/);
    expect(r.status).toBe(1);
  }, 60_000);

  it("stops before building when the pinned version is not the one go.mod requires", () => {
    const script = join(root, "scripts", "toolchain.sh");
    writeFileSync(
      script,
      readFileSync(script, "utf8").replace('KUBE_VERSION="1.35.4"', 'KUBE_VERSION="1.35.3"'),
    );
    const r = toolchain("--no-helm");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "test-cluster/go/kube/go.mod requires k8s.io/kubernetes v1.35.4, but the pinned version is v1.35.3: " +
        "in test-cluster/go/kube run: go get k8s.io/kubernetes@v1.35.3 && go mod tidy",
    );
    expect(r.stdout).not.toContain("building");
  }, 60_000);
});
