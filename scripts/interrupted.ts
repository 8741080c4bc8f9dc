/**
 * `node --import tsx scripts/interrupted.ts deploy|destroy STACK...`: scripts/cdktf.sh runs
 * it when Ctrl-C (or a kill) stopped cdktf, which says no more than `AbortError: The
 * operation was aborted`. It says what was cut off and what to run next, and deals with the
 * lock records a stopped OpenTofu leaves beside a local state (lib/state-locks.ts): an
 * OpenTofu still finishing is waited for a while, a record no process stands behind is
 * removed, one still held is left with the holder named. It only explains: exit code 0.
 */
import { dirname } from "node:path";

import { loadClusterConfig } from "../config/load";
import { definitionFile, stateDirFromEnvironment } from "../lib/environment";
import type { LockRecord, LockStatus } from "../lib/state-locks";
import { lockRecords, lockStatus, removeIfStale } from "../lib/state-locks";

/** How long an OpenTofu that is stopping (it writes its state first) may take to let go. */
const WAIT_FOR_HOLDERS_MS = 30_000;

const NEXT: Record<string, string> = {
  deploy:
    'run it again: it adopts the VMs Proxmox went on making and runs what was cut off once more (docs/operations.md, "An interrupted deploy")',
  destroy: "run it again: it destroys what is left",
};

function lockLine(record: LockRecord, state: LockStatus): string {
  const of = `${record.stack}.tfstate`;
  switch (state.kind) {
    case "stale":
      return `${record.file}: the stopped OpenTofu left this record, and no process holds the lock of ${of} any more; removed it`;
    case "held":
      return `${record.file}: process ${state.holders.join(", ")} still holds the lock of ${of}; let it finish (or end it) before running anything on this state: the record goes with the lock`;
    case "unknown":
      return `${record.file}: left by the stopped OpenTofu, unless one still runs; once no tofu process runs (ps -C tofu), remove it (the next OpenTofu would overwrite it anyway)`;
  }
}

async function main(command: string, stacks: readonly string[]): Promise<void> {
  const rerun = `npm run ${command} -- ${stacks.join(" ")}`;
  let records: LockRecord[] = [];
  try {
    records = lockRecords(stateDirFromEnvironment(loadClusterConfig(definitionFile()).config));
  } catch {
    // No definition to find the state by: what to run next is still worth saying.
  }
  const working = records.map((r) => r.stack);
  const during = working.length > 0 ? ` while OpenTofu worked on ${working.join(" and ")}` : "";
  process.stderr.write(`${rerun}: interrupted${during}; ${NEXT[command] ?? "run it again"}\n`);

  // An OpenTofu that got the signal too writes its state and lets go of its lock.
  const deadline = Date.now() + WAIT_FOR_HOLDERS_MS;
  const held = (r: LockRecord) => lockStatus(r).kind === "held";
  if (records.some(held))
    process.stderr.write("waiting for OpenTofu to let go of the state's lock...\n");
  while (records.some(held) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    records = records.filter((r) => lockRecords(dirname(r.file)).some((n) => n.file === r.file));
  }
  for (const record of records)
    process.stderr.write(`${lockLine(record, removeIfStale(record))}\n`);
}

const [command, ...stacks] = process.argv.slice(2);
main(command ?? "deploy", stacks).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`interrupted.ts: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(0);
  },
);
