"""What the checks of each trigger found wrong, kept beside its firings.

A check can fail (a model that is not registered, a reference that is gone: the trigger's
*error*) or succeed with *warnings* (a column vanished from the live data, a feature that could
not be compared). The watcher records each change of a trigger's problems as one JSON line in
`<home>/triggers/checks.jsonl` — `{"trigger", "at", "error", "warnings"}` — so `conveyor
triggers list` shows each trigger's current problems and `conveyor triggers history` when they
began and ended, after the watcher that saw them has stopped. A line is appended only when the
problems change, not at every check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["CheckJournal"]


class CheckJournal:
    """The append-only record of trigger problems in `folder/checks.jsonl`."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "checks.jsonl"
        self._current: dict[str, dict[str, Any]] | None = None

    def record(
        self, trigger: str, at: float, error: str | None, warnings: list[str]
    ) -> dict[str, Any] | None:
        """Note the problems of `trigger`'s check at `at`; the entry if they changed, else None."""
        current = self.current()
        before = current.get(trigger, {"error": None, "warnings": []})
        if before["error"] == error and before["warnings"] == warnings:
            return None
        entry = {"trigger": trigger, "at": at, "error": error, "warnings": list(warnings)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write of one line: appends of two watchers do not interleave
        finally:
            os.close(fd)
        current[trigger] = entry
        return entry

    def current(self) -> dict[str, dict[str, Any]]:
        """The latest entry of each trigger (its problems now, as far as any watcher saw)."""
        if self._current is None:
            self._current = {}
            for entry in self._read():
                self._current[entry["trigger"]] = entry
        return self._current

    def entries(self, trigger: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Entries, newest first; one with neither error nor warnings says the problems ended."""
        found = [e for e in self._read() if trigger is None or e["trigger"] == trigger]
        return found[::-1][:limit]

    def _read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return []
        entries = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut short by a crash
                continue
            if isinstance(entry, dict) and isinstance(entry.get("trigger"), str):
                entries.append(
                    {
                        "trigger": entry["trigger"],
                        "at": entry.get("at"),
                        "error": entry.get("error"),
                        "warnings": list(entry.get("warnings") or []),
                    }
                )
        return entries
