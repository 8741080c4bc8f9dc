/**
 * The events of our Ansible callback plugin (ansible/callback_plugins/kspray_events.py),
 * read from the file it appends to, and what the runner keeps of them: the state of each
 * play for the progress line, and the hosts, changed tasks and failures for the summary.
 */
import { closeSync, openSync, readSync } from "node:fs";

import type {
  ChangedTask,
  HostOutcome,
  HostResult,
  RunSummary,
  TaskFailure,
} from "../lib/kubespray/runs";

type Status = "ok" | "changed" | "failed" | "unreachable" | "skipped";

/** Ansible's per-host counters, as `stats.summarize()` gives them. */
type AnsibleStats = Omit<HostResult, "result">;

export type AnsibleEvent =
  | { readonly event: "playbook_start"; readonly at: number; readonly playbook: string }
  | { readonly event: "play_start"; readonly at: number; readonly play: string }
  | {
      readonly event: "task_start";
      readonly at: number;
      readonly play: string;
      readonly task: string;
      readonly handler: boolean;
    }
  | {
      readonly event: "result";
      readonly at: number;
      readonly play: string;
      readonly host: string;
      readonly task: string;
      readonly action: string;
      readonly status: Status;
      readonly ignored?: boolean;
      readonly message?: string;
    }
  | {
      readonly event: "stats";
      readonly at: number;
      readonly hosts: Readonly<Record<string, AnsibleStats>>;
    };

/** Reads the events a growing file holds, from where the last read stopped. */
export class EventFile {
  private offset = 0;
  private partial = "";

  constructor(private readonly file: string) {}

  /** The complete lines written since the last call, parsed; a torn last line waits. */
  read(): AnsibleEvent[] {
    const fd = openSync(this.file, "r");
    try {
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n === 0) break;
        chunks.push(Buffer.from(buffer.subarray(0, n)));
        this.offset += n;
      }
      const text = this.partial + Buffer.concat(chunks).toString("utf8");
      const lines = text.split("\n");
      this.partial = lines.pop() ?? "";
      return lines.flatMap((l) => {
        try {
          return l.trim() === "" ? [] : [JSON.parse(l) as AnsibleEvent];
        } catch {
          return []; // not one of the plugin's lines: nothing to show of it
        }
      });
    } finally {
      closeSync(fd);
    }
  }
}

const RANK: Record<HostOutcome, number> = { ok: 0, changed: 1, failed: 2, unreachable: 3 };

/** The worse of two outcomes of a host. */
function worse(a: HostOutcome | undefined, b: HostOutcome): HostOutcome {
  return a !== undefined && RANK[a] >= RANK[b] ? a : b;
}

/** What a result does to a host's outcome in its play (skips and ignored failures: ok). */
function outcomeOf(status: Status, ignored: boolean): HostOutcome {
  if (status === "failed") return ignored ? "ok" : "failed";
  if (status === "skipped") return "ok";
  return status;
}

/** One play as the progress line shows it. */
export interface PlayProgress {
  /** 1-based position in the playbook. */
  readonly index: number;
  readonly name: string;
  readonly startedAt: number;
  /** Set once the next play starts or the playbook ends. */
  endedAt?: number;
  /** Tasks started in this play. */
  tasks: number;
  /** The task running now. */
  current?: string;
  /** Each host's worst result in this play. */
  readonly hosts: Map<string, HostOutcome>;
}

/** Hosts of a play by outcome. */
export function countHosts(play: PlayProgress): Record<HostOutcome, number> {
  const counts: Record<HostOutcome, number> = { ok: 0, changed: 0, failed: 0, unreachable: 0 };
  for (const outcome of play.hosts.values()) counts[outcome]++;
  return counts;
}

/** Everything the runner keeps of a run's events. */
export class RunTracker {
  readonly plays: PlayProgress[] = [];
  private tasks = 0;
  private stats?: Readonly<Record<string, AnsibleStats>>;
  private readonly outcomes = new Map<string, HostOutcome>();
  private readonly changed = new Map<string, ChangedTask & { hosts: string[] }>();
  readonly failures: TaskFailure[] = [];

  /** The play running now (or the last one). */
  get play(): PlayProgress | undefined {
    return this.plays[this.plays.length - 1];
  }

  /** Takes one event; returns the play that ended with it, if one did. */
  add(e: AnsibleEvent): PlayProgress | undefined {
    switch (e.event) {
      case "play_start": {
        const ended = this.endPlay(e.at);
        this.plays.push({
          index: this.plays.length + 1,
          name: e.play,
          startedAt: e.at,
          tasks: 0,
          hosts: new Map(),
        });
        return ended;
      }
      case "task_start":
        this.tasks++;
        if (this.play) {
          this.play.tasks++;
          this.play.current = e.task;
        }
        return undefined;
      case "result": {
        const outcome = outcomeOf(e.status, e.ignored ?? false);
        if (this.play) this.play.hosts.set(e.host, worse(this.play.hosts.get(e.host), outcome));
        this.outcomes.set(e.host, worse(this.outcomes.get(e.host), outcome));
        if (e.status === "changed") {
          const key = `${e.play}\u0000${e.task}`;
          const entry = this.changed.get(key) ?? { play: e.play, task: e.task, hosts: [] };
          if (!entry.hosts.includes(e.host)) entry.hosts.push(e.host);
          this.changed.set(key, entry);
        }
        if (outcome === "failed" || outcome === "unreachable")
          this.failures.push({
            host: e.host,
            play: e.play,
            task: e.task,
            action: e.action,
            unreachable: e.status === "unreachable",
            message: e.message ?? "",
          });
        return undefined;
      }
      case "stats":
        this.stats = e.hosts;
        return this.endPlay(e.at);
      default:
        return undefined;
    }
  }

  private endPlay(at: number): PlayProgress | undefined {
    const play = this.play;
    if (play === undefined || play.endedAt !== undefined) return undefined;
    play.endedAt = at;
    play.current = undefined;
    return play;
  }

  /** The summary's account of hosts, tasks and failures. */
  summary(): Pick<RunSummary, "tasks" | "hosts" | "changedTasks" | "failures"> {
    const names = new Set([...Object.keys(this.stats ?? {}), ...this.outcomes.keys()]);
    const hosts: Record<string, HostResult> = {};
    for (const name of [...names].sort()) {
      const s = this.stats?.[name];
      const counted: AnsibleStats = s ?? {
        ok: 0,
        changed: 0,
        failures: 0,
        unreachable: 0,
        skipped: 0,
        rescued: 0,
        ignored: 0,
      };
      // Ansible's stats when the run got that far; else the worst result seen.
      const result: HostOutcome = s
        ? s.unreachable > 0
          ? "unreachable"
          : s.failures > 0
            ? "failed"
            : s.changed > 0
              ? "changed"
              : "ok"
        : (this.outcomes.get(name) ?? "ok");
      hosts[name] = { ...counted, result };
    }
    return {
      tasks: this.tasks,
      hosts,
      changedTasks: [...this.changed.values()],
      failures: this.failures,
    };
  }
}
