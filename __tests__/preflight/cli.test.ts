/**
 * `npm run preflight` as users run it (preflight/cli.ts in its own process) against the
 * Proxmox VE double: the stacks it is given, and the definition it reads.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parse, stringify } from "yaml";

import { parseClusterConfig } from "../../config/load";
import { secretVariables } from "../../config/secrets";
import { ProxmoxDouble } from "../../proxmox-double";
import { homelab } from "../fixtures/definitions";
import { REPO_ROOT } from "../support/toolchain";

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end without blocking the double's event loop. */
function spawnAsync(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<Run>((done, fail) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", fail);
    child.on("close", (status) => done({ status, stdout, stderr }));
  });
}

/** The environment of a user's shell: nothing of the test's secrets or definition. */
function userEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const k of Object.keys(base))
    if (k.startsWith("TF_VAR_") || k.startsWith("PROXMOX_VE_") || k === "INIT_CWD") delete base[k];
  delete base.CLUSTER_CONFIG;
  return { ...base, ...env };
}

describe("npm run preflight", () => {
  jest.setTimeout(120_000);
  let double: ProxmoxDouble;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    const seed: unknown = parse(
      readFileSync(join(REPO_ROOT, "proxmox-double", "seed.homelab.yaml"), "utf8"),
    );
    double = await ProxmoxDouble.start({ seed: seed as never });
    dir = mkdtempSync(join(tmpdir(), "preflight-cli-"));
    const definition = homelab();
    definition.proxmox = { ...definition.proxmox, endpoint: double.endpoint, insecure: true };
    file = join(dir, "cluster.yaml");
    writeFileSync(file, stringify(definition));
  });
  afterAll(async () => {
    await double.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const preflight = (args: string[], env: Record<string, string>) =>
    spawnAsync(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, "preflight", "cli.ts"), ...args],
      REPO_ROOT,
      userEnv({ PROXMOX_VE_API_TOKEN: double.token, ...env }),
    );

  it("refuses a stack that does not exist, before it checks anything", async () => {
    const asked = double.requests().length;
    const r = await preflight(["adons"], { CLUSTER_CONFIG: file });
    expect(r).toEqual({
      status: 2,
      stdout: "",
      stderr:
        'stack "adons": no such stack; the stacks are vms, cluster, addons (name none for all of them)\n',
    });
    expect(double.requests().length).toBe(asked);
  });

  it("checks the add-ons' secrets when the addons stack is named", async () => {
    const r = await preflight(["addons"], { CLUSTER_CONFIG: file });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/^TF_VAR_grafana_admin_password: not set; export it: /m);
  });

  it("finds the homelab example ready for its add-ons, their pods' requests included", async () => {
    const secrets = Object.fromEntries(
      secretVariables(parseClusterConfig(homelab()).config).map((s) => [s.env, "set"]),
    );
    const r = await preflight(["addons"], { CLUSTER_CONFIG: file, ...secrets });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`preflight: ${file}: ready to deploy\n`);
    expect(r.status).toBe(0);
  });

  it("names the field, the pool and the add-on whose pods would not fit, and exits 2", async () => {
    const small = parse(readFileSync(file, "utf8")) as ReturnType<typeof homelab>;
    small.nodePools[1].memoryMiB = 1024;
    const smallFile = join(dir, "small.yaml");
    writeFileSync(smallFile, stringify(small));
    const secrets = Object.fromEntries(
      secretVariables(parseClusterConfig(small).config).map((s) => [s.env, "set"]),
    );
    const r = await preflight(["addons"], { CLUSTER_CONFIG: smallFile, ...secrets });
    expect(r.stdout).toMatch(
      /^nodePools\[1\]\.memoryMiB: the add-ons do not fit pool worker: 1 pod of kube-prometheus-stack's Alertmanager kube-prometheus-stack-alertmanager \(0 CPU, 200Mi memory each\) would stay Pending \(Insufficient memory\); .*$/m,
    );
    expect(r.stdout).toMatch(/^preflight: 1 problem; nothing was changed$/m);
    expect(r.status).toBe(2);
  });

  // npm runs every script in the project's folder; the folder the user ran it in is INIT_CWD.
  const npmPreflight = (cwd: string, args: string[], env: Record<string, string>) =>
    spawnAsync(
      "npm",
      ["--prefix", REPO_ROOT, "run", "--silent", "preflight", "--", ...args],
      cwd,
      userEnv({ PROXMOX_VE_API_TOKEN: double.token, ...env }),
    );

  it("reads a relative CLUSTER_CONFIG from the folder the user ran npm in", async () => {
    const r = await npmPreflight(dir, ["vms"], { CLUSTER_CONFIG: "cluster.yaml" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`preflight: ${file}: ready to deploy\n`);
    expect(r.status).toBe(0);
  });

  it("names the file it looked for when a relative CLUSTER_CONFIG is not there", async () => {
    const r = await npmPreflight(dir, ["vms"], { CLUSTER_CONFIG: "clusterr.yaml" });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `${join(dir, "clusterr.yaml")}: cannot read the file (ENOENT); check the path, a relative one starts in the folder the command was run in\n`,
    );
  });
});
