/**
 * OpenTofu's lock of a local state, held and dropped by the real tofu: an apply waiting at
 * its confirmation prompt holds the lock (and has written its record); killed, it leaves
 * the record behind, no longer backed by a lock.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { lockHolders, lockRecords, lockStatus, removeIfStale } from "../../lib/state-locks";
import { describeWithToolchain, toolchainEnv, toolPath } from "../support/toolchain";

async function until(what: string, condition: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeWithToolchain()("a local state's lock, held by the real tofu", () => {
  jest.setTimeout(120_000);
  let dir: string;
  let stateDir: string;
  let record: string;
  let apply: ChildProcess | undefined;
  const env = () => {
    const e = toolchainEnv({ ...process.env, TF_INPUT: "1" });
    delete e.TF_IN_AUTOMATION;
    return e;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "state-locks-"));
    stateDir = join(dir, "state");
    record = join(stateDir, ".vms.tfstate.lock.info");
    // A change on every apply (nothing but OpenTofu's own resource type): it always asks.
    writeFileSync(
      join(dir, "main.tf"),
      [
        'terraform {\n  backend "local" { path = "state/vms.tfstate" }\n}',
        'resource "terraform_data" "changes" { input = timestamp() }',
        "",
      ].join("\n"),
    );
    const init = spawnSync(toolPath("tofu"), ["init", "-input=false", "-no-color"], {
      cwd: dir,
      env: env(),
      encoding: "utf8",
      timeout: 60_000,
    });
    expect({ status: init.status, out: init.stdout + init.stderr }).toMatchObject({ status: 0 });
  });
  afterAll(() => {
    apply?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("names the process holding the lock, and keeps its record", async () => {
    // Waits at "Enter a value:" for as long as its input stays open, the lock held.
    apply = spawn(toolPath("tofu"), ["apply", "-input=true", "-no-color"], {
      cwd: dir,
      env: env(),
      stdio: ["pipe", "ignore", "ignore"],
    });
    await until("the apply's lock record", () => existsSync(record));
    const [found] = lockRecords(stateDir);
    expect(found).toMatchObject({
      stack: "vms",
      file: record,
      stateFile: join(stateDir, "vms.tfstate"),
      info: { Operation: "OperationTypeApply" },
    });
    expect(lockHolders(found.stateFile)).toEqual([apply.pid]);
    expect(removeIfStale(found)).toEqual({ kind: "held", holders: [apply.pid] });
    expect(existsSync(record)).toBe(true);
  });

  it("removes the record a killed tofu left, once no process holds the lock", async () => {
    const [found] = lockRecords(stateDir);
    const gone = new Promise((r) => apply!.once("exit", r));
    apply!.kill("SIGKILL");
    await gone;
    expect(existsSync(record)).toBe(true);
    expect(lockStatus(found)).toEqual({ kind: "stale" });
    // A record another OpenTofu wrote since (another ID) is not the one found stale.
    expect(removeIfStale({ ...found, info: { ...found.info, ID: "an-older-one" } })).toEqual({
      kind: "stale",
    });
    expect(existsSync(record)).toBe(true);
    expect(removeIfStale(found)).toEqual({ kind: "stale" });
    expect(existsSync(record)).toBe(false);
  });

  it("removes nothing where the system does not list its locks", () => {
    writeFileSync(record, "{}");
    const [found] = lockRecords(stateDir);
    expect(removeIfStale(found, join(dir, "no-proc-locks"))).toEqual({ kind: "unknown" });
    expect(existsSync(record)).toBe(true);
  });
});
