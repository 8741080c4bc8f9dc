/**
 * Worker tasks: UPIDs in PVE's format (`UPID:node:PID:PSTART:STARTTIME:type:id:user:`),
 * `running` until their work runs later, then `stopped` with `OK`, `WARNINGS: n` or the
 * error, and a log. Also hands out the PIDs that tasks and running VMs show.
 */
import type { Faults, Task, Timing } from "./types";

function hex(n: number, width = 8): string {
  return n.toString(16).toUpperCase().padStart(width, "0");
}

export interface TaskOptions {
  readonly node: string;
  readonly type: string;
  readonly id: string | number;
  readonly durationMs?: number;
  readonly log?: string[];
  readonly work: () => string[] | void;
  readonly onFail?: (error: string) => void;
  readonly forceFail?: string;
}

export class TaskRunner {
  readonly tasks = new Map<string, Task>();
  private pid = 4000;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly timing: Timing,
    private readonly faults: () => Faults,
    private readonly user: string,
  ) {}

  /** A new process ID (tasks and running VMs). */
  nextPid(): number {
    return this.pid++;
  }

  /** Runs `fn` after `ms`, unless the double is disposed first. */
  schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Cancels pending task completions (the double is shutting down). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Starts a worker task. After `durationMs` it runs `work` (its lines go to the task log)
   * and ends `OK`, `WARNINGS: n`, or with the error `work` throws. A task whose type is
   * in `faults.failTasks`, or that is forced to fail, runs `onFail` instead.
   */
  start(opts: TaskOptions): string {
    const now = Math.floor(Date.now() / 1000);
    const pid = this.nextPid();
    const pstart = Math.floor(process.uptime() * 100) + 1_000_000;
    const id = String(opts.id);
    const upid = `UPID:${opts.node}:${hex(pid)}:${hex(pstart)}:${hex(now)}:${opts.type}:${id}:${this.user}:`;
    const task: Task = {
      upid,
      node: opts.node,
      type: opts.type,
      id,
      user: this.user,
      pid,
      pstart,
      starttime: now,
      status: "running",
      log: [...(opts.log ?? [])],
    };
    this.tasks.set(upid, task);
    const injected =
      opts.forceFail ??
      (this.faults().failTasks?.includes(opts.type)
        ? `${opts.type} failed: injected fault (proxmox-double failTasks)`
        : undefined);
    this.schedule(opts.durationMs ?? this.timing.taskDurationMs, () => {
      let error = injected;
      if (error === undefined) {
        try {
          task.log.push(...(opts.work() ?? []));
        } catch (e) {
          error = (e as Error).message;
        }
      } else {
        opts.onFail?.(error);
      }
      TaskRunner.finish(task, error);
    });
    return upid;
  }

  /** Ends a task: `TASK ERROR: ...`, `TASK WARNINGS: n` or `TASK OK`. */
  static finish(task: Task, error: string | undefined): void {
    task.status = "stopped";
    task.endtime = Math.floor(Date.now() / 1000);
    if (error !== undefined) {
      task.log.push(`TASK ERROR: ${error}`);
      task.exitstatus = error;
      return;
    }
    const warnings = task.log.filter((l) => l.startsWith("WARN:")).length;
    if (warnings > 0) {
      task.log.push(`TASK WARNINGS: ${warnings}`);
      task.exitstatus = `WARNINGS: ${warnings}`;
    } else {
      task.log.push("TASK OK");
      task.exitstatus = "OK";
    }
  }
}
