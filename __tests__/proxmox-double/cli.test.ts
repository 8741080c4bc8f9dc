import { spawn } from "node:child_process";
import { get } from "node:https";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const CLI = join(ROOT, "proxmox-double", "cli.ts");

function run(args: string[]) {
  const child = spawn(TSX, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("proxmox-double CLI", () => {
  jest.setTimeout(60_000);

  it("prints the endpoint, the token and the export line, serves until SIGTERM", async () => {
    const proc = run([
      "--port",
      "0",
      "--seed",
      join(ROOT, "proxmox-double", "seed.cloud.yaml"),
      "--fail-clone",
      "2",
    ]);
    try {
      await until(() => proc.out().includes("export PROXMOX_VE_API_TOKEN="), 30_000);
      const endpoint = /listening on (https:\/\/127\.0\.0\.1:\d+\/)/.exec(proc.out())?.[1];
      const token = /^API token: (root@pam!double=[0-9a-f-]{36})$/m.exec(proc.out())?.[1];
      expect(endpoint).toBeDefined();
      expect(token).toBeDefined();
      expect(proc.out()).toContain(`export PROXMOX_VE_API_TOKEN='${token}'`);
      const body = await new Promise<string>((resolve, reject) => {
        get(
          `${endpoint}api2/json/nodes`,
          { headers: { Authorization: `PVEAPIToken=${token}` }, rejectUnauthorized: false },
          (res) => {
            let text = "";
            res.on("data", (c: Buffer) => (text += c.toString()));
            res.on("end", () => resolve(text));
          },
        ).on("error", reject);
      });
      expect(JSON.parse(body).data.map((n: { node: string }) => n.node)).toEqual(["hypervisor"]);
      const faults = await new Promise<string>((resolve, reject) => {
        get(`${endpoint}_double/faults`, { rejectUnauthorized: false }, (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => resolve(text));
        }).on("error", reject);
      });
      expect(JSON.parse(faults)).toMatchObject({
        failClones: [2],
        failTasks: [],
        agentNoAddress: false,
      });
    } finally {
      proc.child.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  });

  it("exits 1 with the problem when the seed is invalid", async () => {
    const proc = run(["--port", "0", "--seed", join(ROOT, "package.json")]);
    expect(await proc.exited).toBe(1);
    expect(proc.err()).toMatch(/^proxmox-double: .*package\.json: invalid seed/);
  });
});
