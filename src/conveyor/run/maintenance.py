"""Store maintenance: verify every artifact's bytes, and collect garbage safely.

`gc` removes blobs no artifact row references, and leftover temporary files — but only those older
than a grace period, so it is safe while pipelines run: a blob written a moment ago whose facts are
about to be recorded is never taken.
"""

from __future__ import annotations

import dataclasses
import time

from conveyor.exceptions import ArtifactCorruptedError, ArtifactError, ArtifactNotFoundError
from conveyor.workspace import Workspace

__all__ = ["GcReport", "VerifyReport", "collect_garbage", "verify_artifacts"]

#: Default age (seconds) below which gc leaves an unreferenced file alone.
DEFAULT_GRACE_S = 3600.0


@dataclasses.dataclass
class VerifyReport:
    checked: int = 0
    missing: list[str] = dataclasses.field(default_factory=list)
    corrupt: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.errors)


@dataclasses.dataclass
class GcReport:
    removed_blobs: list[str] = dataclasses.field(default_factory=list)
    removed_temporary: list[str] = dataclasses.field(default_factory=list)
    freed_bytes: int = 0
    kept_recent: int = 0
    dry_run: bool = False


def verify_artifacts(ws: Workspace) -> VerifyReport:
    """Re-hash every recorded artifact's bytes; list the missing and corrupted ones."""
    report = VerifyReport()
    for record in ws.metadata.artifacts():
        report.checked += 1
        try:
            ws.artifacts.get(record.id, f"{record.materializer}@{record.materializer_version}")
        except ArtifactNotFoundError:
            report.missing.append(record.id)
        except ArtifactCorruptedError:
            report.corrupt.append(record.id)
        except (ArtifactError, OSError) as err:
            report.errors.append(f"{record.id}: {err}")
    return report


def collect_garbage(
    ws: Workspace, *, dry_run: bool = False, grace_s: float = DEFAULT_GRACE_S
) -> GcReport:
    """Delete unreferenced blobs and stale temporary files older than `grace_s` seconds."""
    report = GcReport(dry_run=dry_run)
    cutoff = time.time() - grace_s
    listing = list(ws.artifacts.listing())  # list first: blobs written after this are never seen
    referenced = ws.metadata.artifact_ids()  # ...and read references after listing
    for blob in listing:
        if blob.id is not None and blob.id in referenced:
            continue
        if blob.modified > cutoff:
            report.kept_recent += 1
            continue
        if not dry_run:
            ws.artifacts.delete(blob.key)
        (report.removed_blobs if blob.id else report.removed_temporary).append(blob.key)
        report.freed_bytes += blob.size
    return report
