/**
 * The whole app as users run it: main.ts for both reference definitions, every stack
 * validated by OpenTofu with the real providers, and a bad definition refused with its
 * lines and exit code 2.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { stringify } from "yaml";

import { loadClusterConfig } from "../config/load";
import { expandNodes } from "../config/nodes";
import { kubesprayHost } from "../kubespray-vars/host-fields";
import { groupVars } from "../kubespray-vars/vars";
import { writeRecord } from "../lib/kubespray/record";

import { CLOUD_FILE, homelab, HOMELAB_FILE } from "./fixtures/definitions";
import { stackDir, synthApp, tofuValidate } from "./support/synth-app";
import { describeWithToolchain, REPO_ROOT } from "./support/toolchain";

function runMain(env: NodeJS.ProcessEnv) {
  const out = mkdtempSync(join(tmpdir(), "main-"));
  return spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "main.ts")], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: {
      ...process.env,
      CHECKPOINT_DISABLE: "1",
      CDKTF_OUTDIR: out,
      STATE_DIR: join(out, "state"),
      ...env,
    },
  });
}

describe("main.ts", () => {
  jest.setTimeout(120_000);

  it("uses the bundled example with a one-line notice when CLUSTER_CONFIG is unset", () => {
    const run = runMain({ CLUSTER_CONFIG: "" });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^CLUSTER_CONFIG is not set; using the bundled example .*examples\/homelab\.yaml$/,
      ),
    ]);
  });

  it("refuses an invalid definition with one line per problem and exit code 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "bad-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "name: Bad_Name\nproxmox: {}\n");
    const run = runMain({ CLUSTER_CONFIG: file });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${file}:1: name: the cluster name must be a DNS label`);
    expect(run.stderr).toMatch(/proxmox\.endpoint: required field is missing/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("refuses a Vault CA bundle file that does not exist with its field, exit code 2 and no stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-"));
    const definition = homelab();
    definition.addons.certManager.clusterIssuers[0].vault.caBundleFile = join(dir, "missing.pem");
    const file = join(dir, "cluster.yaml");
    writeFileSync(file, stringify(definition));
    const run = runMain({ CLUSTER_CONFIG: file });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split("\n");
    const line =
      stringify(definition)
        .split("\n")
        .findIndex((l) => l.includes("caBundleFile")) + 1;
    expect(lines).toEqual([
      `${file}:${line}: addons.certManager.clusterIssuers[0].vault.caBundleFile: cannot read ${JSON.stringify(join(dir, "missing.pem"))} (ENOENT); give the path of a PEM file`,
    ]);
    expect(run.stderr + run.stdout).not.toMatch(/^\s+at /m);
  });

  it("refuses a Kubernetes downgrade on the line of kubernetes.version, exit code 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "downgrade-"));
    const text = stringify(homelab());
    const file = join(dir, "cluster.yaml");
    writeFileSync(file, text);
    // The last run, as the runner records it, installed a newer Kubernetes than the definition's.
    const { config } = loadClusterConfig(file);
    const nodes = expandNodes(config).map((n) => ({ ...n, ipv4: n.staticIp ?? "" }));
    const stateDir = join(dir, "state");
    writeRecord(stateDir, {
      kubesprayVersion: config.kubernetes.kubesprayVersion,
      hosts: nodes.map(kubesprayHost),
      controlPlaneOrder: nodes.filter((n) => n.role === "control-plane").map((n) => n.name),
      vars: { ...groupVars(config), kube_version: "1.99.0" },
      action: "cluster.yml",
      completedAt: "2026-01-01T00:00:00Z",
    });
    const run = runMain({ CLUSTER_CONFIG: file, STATE_DIR: stateDir });
    const lines = text.split("\n");
    const section = lines.indexOf("kubernetes:");
    const line = lines.findIndex((l, i) => i > section && l.startsWith("  version: ")) + 1;
    expect(run.stderr.trim()).toBe(
      `${file}:${line}: kubernetes.version: Kubernetes ${config.kubernetes.version} is older than the running 1.99.0, and Kubespray cannot downgrade; set kubernetes.version back to 1.99.0 (or a newer version)`,
    );
    expect(run.status).toBe(2);
  });

  it("npm run synth: exit 2 and each problem once for an invalid definition; where it wrote, otherwise", () => {
    const dir = mkdtempSync(join(tmpdir(), "npm-synth-"));
    const file = join(dir, "bad.yaml");
    const bad = homelab();
    bad.kubernetes.podCidr = "10.233.64.0/26";
    writeFileSync(file, stringify(bad));
    const npm = (env: NodeJS.ProcessEnv) =>
      spawnSync("npm", ["run", "--silent", "synth"], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: { ...process.env, CDKTF_OUTDIR: join(dir, "out"), STATE_DIR: join(dir, "s"), ...env },
      });
    const refused = npm({ CLUSTER_CONFIG: file });
    expect(refused.status).toBe(2);
    const lines = refused.stderr.split("\n").filter((l) => l.includes("kubernetes.podCidr"));
    expect(lines).toHaveLength(1);
    const ok = npm({ CLUSTER_CONFIG: HOMELAB_FILE });
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim()).toBe(`synthesized the stacks into ${join(dir, "out")}/stacks`);
  });
});

describeWithToolchain(["tofu"])("every stack with OpenTofu and the real providers", () => {
  // Its own budget: jest applies one jest.setTimeout, the last, to every test of a file.
  it.each([
    ["homelab", HOMELAB_FILE],
    ["cloud-cluster", CLOUD_FILE],
  ])(
    "passes tofu validate for %s",
    (_name, file) => {
      const { outDir } = synthApp(file, mkdtempSync(join(tmpdir(), "synth-")));
      for (const stack of ["vms", "cluster", "addons"]) {
        const report = tofuValidate(stackDir(outDir, stack));
        expect({ stack, errors: report.diagnostics.filter((d) => d.severity === "error") }).toEqual(
          {
            stack,
            errors: [],
          },
        );
        expect(report.valid).toBe(true);
      }
    },
    600_000,
  );
});
