/**
 * The progress of a playbook run, one line per play: on a terminal the line of the running
 * play is rewritten in place; without one (CI, a pipe, and always under OpenTofu's
 * local-exec, which reads the runner through a pipe and hands cdktf whole lines) the
 * runner prints plain lines: when a play starts, every interval while it runs, and when it
 * ends, with no control character. (cdktf prints each line it gets behind the stack's
 * name; a carriage return inside one would overwrite that name and garble the line.)
 */
import type { PlayProgress, RunTracker } from "./events";
import { countHosts } from "./events";

/** A terminal the progress line is rewritten on. */
export interface Terminal {
  write(text: string): void;
  readonly columns: number;
}

/** `4m12s`, `1h02m`, `35s`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The estimate from the last successful run of the same playbook. */
export function estimate(elapsedSeconds: number, lastRunSeconds: number | undefined): string {
  if (lastRunSeconds === undefined) return "";
  const left = lastRunSeconds - elapsedSeconds;
  return left >= 1
    ? `, about ${duration(left)} left (last run ${duration(lastRunSeconds)})`
    : `, longer than the last run (${duration(lastRunSeconds)})`;
}

/**
 * `cluster.yml, play 3 "Install etcd": 41 tasks done; hosts 2 ok, 4 changed, 0 failed,
 * 0 unreachable; 4m12s, about 15m left (last run 19m20s); now: etcd : Check health`.
 */
export function progressLine(
  label: string,
  play: PlayProgress,
  elapsedSeconds: number,
  lastRunSeconds?: number,
): string {
  const ended = play.endedAt !== undefined;
  const done = ended ? play.tasks : Math.max(0, play.tasks - 1);
  const h = countHosts(play);
  return (
    `${label}, play ${play.index} "${play.name}"${ended ? " done" : ""}: ${done} tasks done; ` +
    `hosts ${h.ok} ok, ${h.changed} changed, ${h.failed} failed, ${h.unreachable} unreachable; ` +
    `${duration(elapsedSeconds)}${ended ? "" : estimate(elapsedSeconds, lastRunSeconds)}` +
    (play.current ? `; now: ${play.current}` : "")
  );
}

export interface ProgressViewOptions {
  /** The step, e.g. `scale.yml --limit=kspray-worker-4`. */
  readonly label: string;
  /** Duration of the last successful run of the same playbook, in seconds. */
  readonly lastRunSeconds?: number;
  /** Where plain lines go (the runner's log: `[kubespray-runner] ...` on stderr). */
  readonly log: (line: string) => void;
  /** Set only when stderr is a terminal. */
  readonly terminal?: Terminal;
  /** Plain lines: at most one per interval while a play runs. */
  readonly intervalMs: number;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Prefix of terminal lines, as `log` adds it to plain ones. */
  readonly prefix: string;
}

/** Prints a run's progress from its tracker; `update` after events, `tick` on a timer. */
export class ProgressView {
  private readonly startedAt: number;
  private lastPrinted = 0;
  /** A terminal line is shown and not yet ended with a newline. */
  private open = false;

  constructor(private readonly opts: ProgressViewOptions) {
    this.startedAt = opts.now();
  }

  private line(play: PlayProgress): string {
    const elapsed = (this.opts.now() - this.startedAt) / 1000;
    return progressLine(this.opts.label, play, elapsed, this.opts.lastRunSeconds);
  }

  private show(play: PlayProgress, final: boolean): void {
    const t = this.opts.terminal;
    this.lastPrinted = this.opts.now();
    if (t === undefined) {
      this.opts.log(this.line(play));
      return;
    }
    // A wrapped line could not be rewritten: cut to the terminal's width.
    const text = `${this.opts.prefix}${this.line(play)}`.slice(0, Math.max(20, t.columns - 1));
    t.write(`\r${text}\u001b[K${final ? "\n" : ""}`);
    this.open = !final;
  }

  /** After new events: `ended` is the play that one of them ended. */
  update(tracker: RunTracker, ended: readonly PlayProgress[], started: boolean): void {
    for (const play of ended) this.show(play, true);
    const play = tracker.play;
    if (play === undefined || play.endedAt !== undefined) return;
    // Plain: a line when a play starts, then at most one per interval; a terminal: always.
    if (this.opts.terminal !== undefined || started) this.show(play, false);
  }

  /** On the timer: the running play's line again (plain: once per interval). */
  tick(tracker: RunTracker): void {
    const play = tracker.play;
    if (play === undefined || play.endedAt !== undefined) return;
    if (
      this.opts.terminal === undefined &&
      this.opts.now() - this.lastPrinted < this.opts.intervalMs
    )
      return;
    this.show(play, false);
  }

  /** The run is over: a play cut off by a failure gets its last line. */
  finish(tracker: RunTracker): void {
    const play = tracker.play;
    if (play !== undefined && play.endedAt === undefined) this.show(play, true);
    else if (this.open) this.opts.terminal?.write("\n");
    this.open = false;
  }
}
