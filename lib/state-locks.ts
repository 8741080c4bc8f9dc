/**
 * OpenTofu's lock of a local state. While a command works on `<stack>.tfstate`, OpenTofu
 * holds a POSIX record lock (fcntl) on that file and writes who holds it to
 * `.<stack>.tfstate.lock.info` beside it; it removes the record when it lets go. The kernel
 * drops the lock with its process, but a killed OpenTofu (Ctrl-C, which cdktf turns into a
 * kill) leaves the record behind. Such a record is stale: the next OpenTofu takes the free
 * lock and overwrites it, but a user who finds it takes it for a lock. Linux lists every
 * POSIX lock held, and by which process, in /proc/locks: a record is removed only when no
 * process holds a lock on its state file.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

import { localStateFile } from "./state-backend";

export const PROC_LOCKS = "/proc/locks";

/** What OpenTofu writes to a lock record (`statemgr.LockInfo`). */
export interface LockInfo {
  readonly ID?: string;
  readonly Operation?: string;
  readonly Who?: string;
  readonly Created?: string;
}

export interface LockRecord {
  /** The stack whose state it is about (`vms` for `.vms.tfstate.lock.info`). */
  readonly stack: string;
  /** The record, `<stateDir>/.<stack>.tfstate.lock.info`. */
  readonly file: string;
  /** The state file it is about, `<stateDir>/<stack>.tfstate`. */
  readonly stateFile: string;
  /** Its contents; undefined when it is not OpenTofu's JSON. */
  readonly info?: LockInfo;
}

const RECORD = /^\.(.+)\.tfstate\.lock\.info$/;

/** The lock records in a state directory (none when it does not exist). */
export function lockRecords(stateDir: string): LockRecord[] {
  if (!existsSync(stateDir)) return [];
  return readdirSync(stateDir).flatMap((name) => {
    const stack = RECORD.exec(name)?.[1];
    if (stack === undefined) return [];
    const file = join(stateDir, name);
    let info: LockInfo | undefined;
    try {
      info = JSON.parse(readFileSync(file, "utf8")) as LockInfo;
    } catch {
      info = undefined;
    }
    return [{ stack, file, stateFile: localStateFile(stateDir, stack), info }];
  });
}

/**
 * The processes holding a POSIX lock on `file` (the ID of the holder's process; an open file
 * description lock, which has none, counts as -1), from Linux's /proc/locks; undefined where
 * that cannot be read (another system), so that nobody guesses. Locks are matched by inode
 * alone: a lock on another device's file with the same inode number keeps a record, never
 * the other way round.
 */
export function lockHolders(file: string, procLocks: string = PROC_LOCKS): number[] | undefined {
  let table: string;
  try {
    table = readFileSync(procLocks, "utf8");
  } catch {
    return undefined;
  }
  if (!existsSync(file)) return [];
  const inode = statSync(file, { bigint: true }).ino.toString();
  const holders: number[] = [];
  for (const line of table.split("\n")) {
    // `1: POSIX  ADVISORY  WRITE 28818 fe:00:10242623 0 EOF` (a waiter's line has `->`).
    const m = /^\d+:\s+(POSIX|OFDLCK)\s+\S+\s+\S+\s+(-?\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(
      line,
    );
    if (m && m[3] === inode) holders.push(Number(m[2]));
  }
  return holders;
}

export type LockStatus =
  | { readonly kind: "stale" }
  | { readonly kind: "held"; readonly holders: readonly number[] }
  | { readonly kind: "unknown" };

/** Whether a record's lock is still held, by whom, or cannot be told here. */
export function lockStatus(record: LockRecord, procLocks: string = PROC_LOCKS): LockStatus {
  const holders = lockHolders(record.stateFile, procLocks);
  if (holders === undefined) return { kind: "unknown" };
  return holders.length > 0 ? { kind: "held", holders } : { kind: "stale" };
}

/**
 * Removes a record only when it is stale and still the one read (an OpenTofu started since
 * writes its own, with another ID); returns the state it was found in.
 */
export function removeIfStale(record: LockRecord, procLocks: string = PROC_LOCKS): LockStatus {
  const state = lockStatus(record, procLocks);
  if (state.kind !== "stale") return state;
  const now = lockRecords(dirname(record.file)).find((r) => r.file === record.file);
  if (now && now.info?.ID === record.info?.ID) rmSync(record.file, { force: true });
  return state;
}
