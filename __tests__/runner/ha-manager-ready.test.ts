/**
 * `dist/runner/ha-manager-ready.js`, which the vms stack runs between the HA resources and
 * the rules: its exit codes and messages, against the double on loopback.
 */
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";

import { ProxmoxDouble } from "../../proxmox-double";
import { data } from "../proxmox-double/api";

const ROOT = join(__dirname, "..", "..");
const ENTRY = join(ROOT, "dist", "runner", "ha-manager-ready.js");

jest.setTimeout(120_000);

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ENTRY, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("ha-manager-ready", () => {
  let double: ProxmoxDouble;
  beforeAll(async () => {
    const build = spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        join(ROOT, "tsconfig.build.json"),
      ],
      { encoding: "utf8" },
    );
    if (build.status !== 0) throw new Error(build.stdout + build.stderr);
    double = await ProxmoxDouble.start({
      taskDurationMs: 20,
      haRoundMs: 300,
      seed: {
        nodes: [{ name: "pve01" }, { name: "pve02" }],
        storages: [{ id: "local-lvm", type: "lvmthin" }],
        vms: [{ vmid: 100, node: "pve01", config: { scsi0: "local-lvm:vm-100-disk-0,size=1G" } }],
      },
    });
  });
  afterAll(() => double.stop());

  const env = (token?: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    ...(token ? { PROXMOX_VE_API_TOKEN: token } : {}),
  });

  it("exits 2 without the deploy's token, saying so", async () => {
    const r = await run([double.endpoint, "1", "5", "pve01,pve02"], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^PROXMOX_VE_API_TOKEN: not set; .*export it/);
  });

  it("exits 2, a user's error without a stack trace, when the manager never lists the hosts", async () => {
    const r = await run([double.endpoint, "1", "1", "pve01,pve02"], env(double.token));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^proxmox\.ha\.enabled: Proxmox's HA manager does not list pve01, pve02 after 1 s/,
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("exits 0 once it lists them", async () => {
    await data(double, "POST", "cluster/ha/resources", { sid: "vm:100", state: "stopped" });
    const r = await run([double.endpoint, "1", "30", "pve01,pve02"], env(double.token));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lists every host/);
  });
});
