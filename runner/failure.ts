/**
 * A failed playbook explained: which host, which task, Ansible's message, the runbook
 * section of docs/operations.md that covers that kind of failure, and the full log.
 */
import { RUNBOOK } from "../lib/kubespray/playbooks";
import type { TaskFailure } from "../lib/kubespray/runs";

/** A section of docs/operations.md (its heading, and GitHub's anchor for it). */
export interface Runbook {
  readonly heading: string;
  readonly anchor: string;
}

export const RUNBOOKS = {
  unreachable: { heading: "An unreachable node", anchor: "an-unreachable-node" },
  downloads: {
    heading: "Packages and downloads that fail",
    anchor: "packages-and-downloads-that-fail",
  },
  etcd: { heading: "etcd is not healthy", anchor: "etcd-is-not-healthy" },
  failed: { heading: "A failed Kubespray run", anchor: "a-failed-kubespray-run" },
} as const satisfies Record<string, Runbook>;

/** Modules that install packages or fetch files and images. */
const DOWNLOAD_ACTIONS = new Set([
  "apt",
  "apt_key",
  "apt_repository",
  "deb822_repository",
  "package",
  "dnf",
  "dnf5",
  "yum",
  "get_url",
]);
/** Words of apt, dpkg, HTTP downloads and image pulls that fail. */
const DOWNLOAD_MESSAGE =
  /\b(apt|apt-get|dpkg|unable to locate package|no package matching|failed to fetch|failed to download|request failed|could not resolve|temporary failure resolving|failed to pull|pull access denied|manifest unknown)\b/i;
/** Kubespray's download role and its package tasks. */
const DOWNLOAD_TASK = /\b(download|install packages|package)/i;

/** The runbook section for one failure. */
export function runbookFor(failure: TaskFailure): Runbook {
  if (failure.unreachable) return RUNBOOKS.unreachable;
  const action = failure.action.replace(/^ansible\.(builtin|legacy)\./, "");
  if (
    DOWNLOAD_ACTIONS.has(action) ||
    DOWNLOAD_MESSAGE.test(failure.message) ||
    DOWNLOAD_TASK.test(failure.task)
  )
    return RUNBOOKS.downloads;
  if (/etcd/i.test(failure.task) || /etcd/i.test(failure.message)) return RUNBOOKS.etcd;
  return RUNBOOKS.failed;
}

export function runbookLink(runbook: Runbook): string {
  return `${RUNBOOK}#${runbook.anchor} ("${runbook.heading}")`;
}

const MAX_HOSTS = 5;
const MAX_MESSAGE_LINES = 8;
const MAX_LINE = 300;

/** Ansible's message, a few lines of it, each cut to a readable length. */
function messageLines(message: string): string[] {
  const lines = message
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  const shown = lines
    .slice(0, MAX_MESSAGE_LINES)
    .map((l) => (l.length > MAX_LINE ? `${l.slice(0, MAX_LINE - 3)}...` : l));
  if (lines.length > MAX_MESSAGE_LINES)
    shown.push(`(${lines.length - shown.length} more lines in the log)`);
  return shown.length > 0 ? shown : ["(no message; see the log)"];
}

export interface FailedRun {
  /** The step, e.g. `cluster.yml`. */
  readonly label: string;
  /** `exit 2`, `SIGTERM`. */
  readonly exit: string;
  /** The failures of the run, in the order they happened. */
  readonly failures: readonly TaskFailure[];
  /** The last lines of the log: what is shown when no host failed (Ansible's own error). */
  readonly logTail: readonly string[];
  readonly logFile: string;
}

/**
 * The lines a failed run ends with: the failed hosts, each with its task and Ansible's
 * message, the runbook sections that cover them, then the full log's path.
 */
export function explainFailure(run: FailedRun): string[] {
  // A host's last failure is the one that stopped it.
  const byHost = new Map<string, TaskFailure>();
  for (const f of run.failures) byHost.set(f.host, f);
  const failed = [...byHost.values()];
  const lines = [
    `${run.label} failed (${run.exit}); the record is unchanged, so the next deploy runs it again`,
  ];
  for (const f of failed.slice(0, MAX_HOSTS)) {
    lines.push(
      `${f.unreachable ? "unreachable" : "failed"} host: ${f.host}`,
      `task: ${f.task}`,
      ...messageLines(f.message).map((l, i) => (i === 0 ? `message: ${l}` : `  ${l}`)),
    );
  }
  if (failed.length > MAX_HOSTS)
    lines.push(`and ${failed.length - MAX_HOSTS} more hosts failed (see the log)`);
  if (failed.length === 0)
    lines.push(
      "no host failed: Ansible stopped on its own error; the log ends with",
      ...run.logTail.map((l) => `  ${l}`),
    );
  const runbooks = failed.length === 0 ? [RUNBOOKS.failed] : failed.map(runbookFor);
  for (const r of [...new Set(runbooks)]) lines.push(`runbook: ${runbookLink(r)}`);
  lines.push(`full log: ${run.logFile}`);
  return lines;
}
