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

export interface AsyncTaskOptions {
  readonly node: string;
  readonly type: string;
  readonly id: string;
  /** Runs at once; its lines go to the task log (the task's own lines may be added meanwhile). */
  readonly work: (task: Task) => Promise<string[] | void>;
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
    const task = this.begin(opts);
    const injected = this.injected(opts.type, opts.forceFail);
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
    return task.upid;
  }

  /**
   * Starts a worker task whose work is itself asynchronous (a download): it ends when the
   * work settles, like `start`'s, or at once with the `faults.failTasks` error.
   */
  startAsync(opts: AsyncTaskOptions): string {
    const task = this.begin({ ...opts, log: [] });
    const injected = this.injected(opts.type);
    if (injected !== undefined) {
      this.schedule(this.timing.taskDurationMs, () => TaskRunner.finish(task, injected));
      return task.upid;
    }
    opts.work(task).then(
      (lines) => {
        task.log.push(...(lines ?? []));
        if (task.status === "running") TaskRunner.finish(task, undefined);
      },
      (e: unknown) => {
        if (task.status === "running") TaskRunner.finish(task, (e as Error).message);
      },
    );
    return task.upid;
  }

  /** Stops a running task like `kill` does (DELETE /nodes/{node}/tasks/{upid}). */
  stop(task: Task): void {
    if (task.status === "running") TaskRunner.finish(task, "interrupted by signal");
  }

  private injected(type: string, forced?: string): string | undefined {
    return (
      forced ??
      (this.faults().failTasks?.includes(type)
        ? `${type} failed: injected fault (proxmox-double failTasks)`
        : undefined)
    );
  }

  private begin(opts: Pick<TaskOptions, "node" | "type" | "id" | "log">): Task {
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
    return task;
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
