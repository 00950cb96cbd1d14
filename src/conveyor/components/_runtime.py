"""What the components that touch the stores need from the run they execute in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.core.context import current_step

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["UNKNOWN", "input_artifact", "workspace"]

#: In a `check=` function's defaults: an argument an upstream step produces, so it is not known
#: when the pipeline is traced (it is checked when the step runs).
UNKNOWN: Any = object()


def workspace() -> Workspace:
    """The workspace of the running step (its run's settings), with the runner's facts written.

    Outside a run (a component called as plain Python) it is the project's default workspace.
    """
    from conveyor.workspace import open_workspace  # SQLAlchemy: only when a component needs it

    ctx = current_step()
    if ctx is None:
        return open_workspace()
    ctx.sync_metadata()
    return open_workspace(ctx.settings)


def input_artifact(arg: str) -> str | None:
    """The artifact id of input `arg` of the running step, if an upstream step produced it."""
    ctx = current_step()
    return None if ctx is None else ctx.inputs.get(arg)
