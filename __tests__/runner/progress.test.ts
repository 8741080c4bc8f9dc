// Terminal control sequences are what some of these tests look for.
/* eslint-disable no-control-regex */
import type { AnsibleEvent } from "../../runner/events";
import { RunTracker } from "../../runner/events";
import type { Terminal } from "../../runner/progress";
import { duration, estimate, progressLine, ProgressView } from "../../runner/progress";

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** A play of two tasks on three hosts, as the callback plugin reports it. */
const EVENTS: AnsibleEvent[] = [
  { event: "playbook_start", at: 0, playbook: "cluster.yml" },
  { event: "play_start", at: 0, play: "Install etcd" },
  { event: "task_start", at: 1, play: "Install etcd", task: "etcd : Get etcd", handler: false },
  ...["cp-1", "cp-2", "cp-3"].map((host): AnsibleEvent => ({
    event: "result",
    at: 2,
    play: "Install etcd",
    host,
    task: "etcd : Get etcd",
    action: "get_url",
    status: host === "cp-1" ? "changed" : "ok",
  })),
  { event: "task_start", at: 3, play: "Install etcd", task: "etcd : Start", handler: false },
];

describe("progressLine", () => {
  it("says the playbook, the play, tasks done, hosts by result, elapsed time and the estimate", () => {
    const tracker = new RunTracker();
    for (const e of EVENTS) tracker.add(e);
    const play = tracker.play;
    if (!play) throw new Error("no play");
    expect(progressLine("cluster.yml", play, 252, 1160)).toBe(
      'cluster.yml, play 1 "Install etcd": 1 tasks done; hosts 2 ok, 1 changed, 0 failed, ' +
        "0 unreachable; 4m12s, about 15m08s left (last run 19m20s); now: etcd : Start",
    );
    tracker.add({ event: "play_start", at: 9, play: "Next" });
    expect(progressLine("cluster.yml", play, 300)).toBe(
      'cluster.yml, play 1 "Install etcd" done: 2 tasks done; hosts 2 ok, 1 changed, 0 failed, ' +
        "0 unreachable; 5m00s",
    );
  });

  it("estimates from the last run, and says when this one takes longer", () => {
    expect(estimate(10, undefined)).toBe("");
    expect(estimate(60, 3700)).toBe(", about 1h00m left (last run 1h01m)");
    expect(estimate(130, 120)).toBe(", longer than the last run (2m00s)");
    expect(duration(59.6)).toBe("1m00s");
  });
});

describe("ProgressView", () => {
  const setup = (terminal?: Terminal) => {
    let now = 0;
    const lines: string[] = [];
    const view = new ProgressView({
      label: "cluster.yml",
      log: (l) => lines.push(l),
      terminal,
      intervalMs: 30_000,
      now: () => now,
      prefix: "[kubespray-runner] ",
    });
    const tracker = new RunTracker();
    const feed = (events: AnsibleEvent[]) => {
      const ended = events.flatMap((e) => tracker.add(e) ?? []);
      view.update(
        tracker,
        ended,
        events.some((e) => e.event === "play_start"),
      );
    };
    return {
      lines,
      view,
      tracker,
      feed,
      at: (ms: number) => {
        now = ms;
      },
    };
  };

  it("without a terminal: a line when a play starts, one per interval, one when it ends", () => {
    const { lines, view, tracker, feed, at } = setup();
    feed(EVENTS.slice(0, 3));
    feed(EVENTS.slice(3));
    expect(lines).toHaveLength(1);
    at(29_000);
    view.tick(tracker);
    expect(lines).toHaveLength(1);
    at(31_000);
    view.tick(tracker);
    expect(lines[1]).toMatch(
      /^cluster\.yml, play 1 "Install etcd": 1 tasks done; .*; 31s; now: etcd : Start$/,
    );
    at(40_000);
    feed([{ event: "stats", at: 40, hosts: {} }]);
    view.finish(tracker);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/"Install etcd" done: 2 tasks done; hosts 2 ok, 1 changed.*; 40s$/);
    expect(lines.join("\n")).not.toMatch(CONTROL);
  });

  it("on a terminal: the running play's line rewritten in place, cut to the width", () => {
    const writes: string[] = [];
    const { view, tracker, feed, at } = setup({ write: (t) => writes.push(t), columns: 60 });
    feed(EVENTS);
    at(1000);
    view.tick(tracker);
    expect(writes.length).toBeGreaterThanOrEqual(2);
    for (const w of writes) {
      expect(w).toMatch(/^\r\[kubespray-runner\] cluster\.yml, play 1 .*\u001b\[K$/);
      expect(w.replace(/^\r|\u001b\[K$/g, "").length).toBeLessThanOrEqual(59);
    }
    feed([{ event: "play_start", at: 5, play: "Next" }]);
    expect(writes.some((w) => w.includes('"Install etcd" done') && w.endsWith("\u001b[K\n"))).toBe(
      true,
    );
    view.finish(tracker);
    expect(writes[writes.length - 1]).toMatch(/"Next".*\u001b\[K\n$/);
  });
});
