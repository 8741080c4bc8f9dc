# The runner's view of a playbook run: Ansible's own callback events, one JSON object per
# line, appended to the file the runner names. The runner turns them into its progress
# lines, the run's summary and the explanation of a failure; Ansible's human output goes
# to the run's log unchanged. Enabled only by the runner (runner/execute.ts).
from __future__ import annotations

DOCUMENTATION = """
    name: kspray_events
    type: notification
    short_description: JSON events for the cluster stack's Kubespray runner
    description:
      - Appends play, task, per-host result and stats events as JSON lines to a file.
    requirements:
      - enabled in callbacks_enabled (the runner sets ANSIBLE_CALLBACKS_ENABLED)
    options:
      events_file:
        description: File the events are appended to; nothing is written without it.
        env:
          - name: KSPRAY_EVENTS_FILE
        type: path
"""

import json
import time

from ansible.plugins.callback import CallbackBase

# A failure's message as Ansible gives it, cut to what a person reads in a terminal.
MAX_MESSAGE = 4000


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_text(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _message(result: dict) -> str:
    """Ansible's message of a failed result: its msg, the command's stderr, or a failed item's."""
    if result.get("censored"):
        return _text(result["censored"])
    parts = [_text(result.get("msg")).strip()]
    stderr = _text(result.get("stderr") or result.get("module_stderr")).strip()
    if stderr and stderr not in parts[0]:
        parts.append(stderr)
    if not any(parts):
        exception = _text(result.get("exception")).strip()
        if exception:
            parts.append(exception.splitlines()[-1])
    for item in result.get("results") or []:
        if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
            inner = _message(item)
            if inner:
                parts.append(inner)
                break
    return "\n".join(p for p in parts if p)[:MAX_MESSAGE]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "kspray_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self._out = None
        self._play = ""

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        path = self.get_option("events_file")
        if path:
            # Line-buffered: the runner reads each event as soon as it is written.
            self._out = open(path, "a", buffering=1, encoding="utf-8")

    def _emit(self, event: str, **fields) -> None:
        if self._out is None:
            return
        self._out.write(json.dumps({"event": event, "at": time.time(), **fields}) + "\n")

    def _result(self, result, status: str, **fields) -> None:
        self._emit(
            "result",
            play=self._play,
            host=result._host.get_name(),
            task=result._task.get_name().strip(),
            action=result._task.action,
            status=status,
            **fields,
        )

    def v2_playbook_on_start(self, playbook):
        self._emit("playbook_start", playbook=playbook._file_name)

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name().strip()
        self._emit("play_start", play=self._play)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit("task_start", play=self._play, task=task.get_name().strip(), handler=False)

    def v2_playbook_on_handler_task_start(self, task):
        self._emit("task_start", play=self._play, task=task.get_name().strip(), handler=True)

    def v2_runner_on_ok(self, result):
        self._result(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed", ignored=bool(ignore_errors), message=_message(result._result))

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable", message=_message(result._result))

    def v2_playbook_on_stats(self, stats):
        hosts = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._emit("stats", hosts=hosts)
        if self._out is not None:
            self._out.close()
            self._out = None
