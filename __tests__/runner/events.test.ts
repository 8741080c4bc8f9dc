import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AnsibleEvent } from "../../runner/events";
import { EventFile, RunTracker } from "../../runner/events";

const result = (
  host: string,
  task: string,
  status: "ok" | "changed" | "failed" | "unreachable" | "skipped",
  extra: Partial<{ ignored: boolean; message: string }> = {},
): AnsibleEvent => ({
  event: "result",
  at: 1,
  play: "P",
  host,
  task,
  action: "command",
  status,
  ...extra,
});

describe("RunTracker", () => {
  it("keeps the changed tasks, the failures that stopped a host, and each host's result", () => {
    const t = new RunTracker();
    for (const e of [
      { event: "play_start", at: 0, play: "P" },
      { event: "task_start", at: 0, play: "P", task: "a", handler: false },
      result("h1", "a", "changed"),
      result("h2", "a", "changed"),
      result("h3", "a", "failed", { ignored: true, message: "ignored" }),
      { event: "task_start", at: 0, play: "P", task: "b", handler: false },
      result("h1", "b", "failed", { message: "boom" }),
      result("h2", "b", "unreachable", { message: "no route" }),
      result("h3", "b", "skipped"),
    ] as AnsibleEvent[])
      t.add(e);
    // Killed before Ansible's stats: the results seen.
    const s = t.summary();
    expect(s.tasks).toBe(2);
    expect(Object.fromEntries(Object.entries(s.hosts).map(([h, r]) => [h, r.result]))).toEqual({
      h1: "failed",
      h2: "unreachable",
      h3: "ok",
    });
    expect(s.changedTasks).toEqual([{ play: "P", task: "a", hosts: ["h1", "h2"] }]);
    expect(s.failures.map((f) => [f.host, f.task, f.unreachable, f.message])).toEqual([
      ["h1", "b", false, "boom"],
      ["h2", "b", true, "no route"],
    ]);
    // Ansible's stats, when it got that far, are the summary's counts.
    const ended = t.add({
      event: "stats",
      at: 2,
      hosts: {
        h1: { ok: 1, changed: 1, failures: 1, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 },
        h2: { ok: 1, changed: 1, failures: 0, unreachable: 1, skipped: 0, rescued: 0, ignored: 0 },
        h3: { ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 1, rescued: 0, ignored: 1 },
      },
    });
    expect(ended?.name).toBe("P");
    expect(t.summary().hosts.h3).toEqual({
      ok: 0,
      changed: 0,
      failures: 0,
      unreachable: 0,
      skipped: 1,
      rescued: 0,
      ignored: 1,
      result: "ok",
    });
  });
});

describe("EventFile", () => {
  it("reads the lines written since the last read, a torn last line once it is whole", () => {
    const file = join(mkdtempSync(join(tmpdir(), "events-")), "e.jsonl");
    writeFileSync(file, "");
    const events = new EventFile(file);
    expect(events.read()).toEqual([]);
    appendFileSync(file, '{"event":"play_start","at":1,"play":"A"}\n{"event":"task_st');
    expect(events.read().map((e) => e.event)).toEqual(["play_start"]);
    appendFileSync(file, 'art","at":2,"play":"A","task":"t","handler":false}\nnot json\n');
    expect(events.read()).toEqual([
      { event: "task_start", at: 2, play: "A", task: "t", handler: false },
    ]);
    expect(events.read()).toEqual([]);
  });
});
