import { readFileSync } from "node:fs";
import { join } from "node:path";

import type { TaskFailure } from "../../lib/kubespray/runs";
import { explainFailure, runbookFor, RUNBOOKS } from "../../runner/failure";
import { anchor } from "../../scripts/write-docs";

const failure = (over: Partial<TaskFailure>): TaskFailure => ({
  host: "kspray-cp-1",
  play: "Install Kubernetes",
  task: "kubernetes/control-plane : Joining control plane node to the cluster",
  action: "ansible.builtin.command",
  unreachable: false,
  message: "non-zero return code",
  ...over,
});

describe("runbookFor", () => {
  it("sends an unreachable host to SSH and the guest agent", () => {
    expect(runbookFor(failure({ unreachable: true, task: "etcd : Gather facts" }))).toBe(
      RUNBOOKS.unreachable,
    );
  });

  it("sends apt, package and download failures to the mirrors", () => {
    for (const f of [
      failure({ action: "ansible.builtin.apt", message: "No package matching 'socat'" }),
      failure({ action: "ansible.builtin.get_url", task: "download : Download item" }),
      failure({ message: "E: Failed to fetch http://deb.debian.org/debian/pool/main/s/socat" }),
      failure({ task: "kubernetes/preinstall : Install packages requirements" }),
      // The etcd binary's download is a download first.
      failure({ task: "etcd : Get etcd", message: "Request failed: <urlopen error timed out>" }),
    ])
      expect(runbookFor(f)).toBe(RUNBOOKS.downloads);
  });

  it("sends etcd's health checks to the etcd runbook", () => {
    expect(
      runbookFor(failure({ task: "etcd : Configure | Wait for etcd cluster to be healthy" })),
    ).toBe(RUNBOOKS.etcd);
    expect(
      runbookFor(failure({ message: "error #0: dial tcp: etcdserver: request timed out" })),
    ).toBe(RUNBOOKS.etcd);
  });

  it("sends anything else to the failed-run runbook", () => {
    expect(runbookFor(failure({}))).toBe(RUNBOOKS.failed);
  });

  it("names sections that exist in docs/operations.md", () => {
    const docs = readFileSync(join(__dirname, "..", "..", "docs", "operations.md"), "utf8");
    const anchors = [...docs.matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1]));
    for (const r of Object.values(RUNBOOKS)) {
      expect(anchors).toContain(r.anchor);
      expect(anchor(r.heading)).toBe(r.anchor);
    }
  });
});

describe("explainFailure", () => {
  const run = {
    label: "cluster.yml",
    exit: "exit 2",
    logTail: ["PLAY RECAP ***"],
    logFile: "/state/runs/x-cluster.log",
  };

  it("ends with each failed host's task and message, the runbooks, then the log", () => {
    const lines = explainFailure({
      ...run,
      failures: [
        failure({ host: "kspray-cp-2", message: "first try" }),
        failure({
          host: "kspray-cp-2",
          task: "etcd : Configure | Check if etcd cluster is healthy",
          message: "unhealthy\ncluster",
        }),
        failure({ host: "kspray-worker-1", action: "apt", task: "Install", message: "dpkg broke" }),
      ],
    });
    expect(lines).toEqual([
      "cluster.yml failed (exit 2); the record is unchanged, so the next deploy runs it again",
      "failed host: kspray-cp-2",
      "task: etcd : Configure | Check if etcd cluster is healthy",
      "message: unhealthy",
      "  cluster",
      "failed host: kspray-worker-1",
      "task: Install",
      "message: dpkg broke",
      'runbook: docs/operations.md#etcd-is-not-healthy ("etcd is not healthy")',
      'runbook: docs/operations.md#packages-and-downloads-that-fail ("Packages and downloads that fail")',
      "full log: /state/runs/x-cluster.log",
    ]);
  });

  it("shows the log's end when Ansible stopped before any host failed", () => {
    const lines = explainFailure({
      ...run,
      exit: "exit 4",
      failures: [],
      logTail: ["ERROR! the playbook: cluster.yml could not be found"],
    });
    expect(lines.slice(1)).toEqual([
      "no host failed: Ansible stopped on its own error; the log ends with",
      "  ERROR! the playbook: cluster.yml could not be found",
      'runbook: docs/operations.md#a-failed-kubespray-run ("A failed Kubespray run")',
      "full log: /state/runs/x-cluster.log",
    ]);
  });

  it("names five hosts at most, and cuts long messages", () => {
    const lines = explainFailure({
      ...run,
      failures: [1, 2, 3, 4, 5, 6, 7].map((i) =>
        failure({ host: `w-${i}`, message: `${"x".repeat(400)}\n`.repeat(12) }),
      ),
    });
    expect(lines.filter((l) => l.startsWith("failed host: "))).toHaveLength(5);
    expect(lines).toContain("and 2 more hosts failed (see the log)");
    const message = lines.slice(
      lines.indexOf("failed host: w-1") + 2,
      lines.indexOf("failed host: w-2"),
    );
    expect(message).toHaveLength(9);
    expect(message[0]).toBe(`message: ${"x".repeat(297)}...`);
    expect(message[8]).toBe("  (4 more lines in the log)");
  });
});
