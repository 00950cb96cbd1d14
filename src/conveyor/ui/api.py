"""The JSON API under /api/: what the pages fetch, and what scripts can call.

Every read is a GET answered from the metadata store. The three actions (promote, rollback,
re-run) are POSTs that need `Authorization: Bearer KEY`, and exist only when the dashboard was
started with `--api-key-env`; otherwise they answer 403.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Body, Header, Path, Query, Request
from pydantic import BaseModel, Field

from conveyor._version import __version__
from conveyor.metadata.trigger_store import TriggerStore
from conveyor.ui import actions, monitoring, queries, views
from conveyor.ui.lineage import artifact_lineage
from conveyor.ui.schemas import (
    ActionResult,
    ArtifactOut,
    CompareOut,
    HistogramsOut,
    Info,
    LineageOut,
    ModelOut,
    ModelSummary,
    MonitoringModelOut,
    MonitoringOverview,
    Problem,
    RerunResult,
    RunDetail,
    RunPage,
    StepDetail,
    TriggerEventOut,
)
from conveyor.ui.state import Refused, UiState

__all__ = ["router"]

#: every endpoint: a parameter or body the API refuses, or a foreign Host header (the door's)
BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "A parameter or the body is invalid (`bad_request`), or the Host header "
        "is not a name the dashboard answers to (`host`).",
    },
}
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such run, step, artifact or model."},
}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": Problem, "description": "Missing or wrong API key."},
    403: {"model": Problem, "description": "The dashboard is read-only (no --api-key-env)."},
    409: {"model": Problem, "description": "The model or run is not in a state that allows it."},
    413: {"model": Problem, "description": "The body is over 64 KiB."},
    415: {"model": Problem, "description": "The body is not `application/json`."},
}

router = APIRouter(prefix="/api", responses=BAD_REQUEST)

#: the statuses the runs list filters by
RunStatus = Literal["running", "succeeded", "failed", "interrupted"]


def _state(request: Request) -> UiState:
    return request.app.state.ui


def _cursor(text: str | None, field: str) -> tuple[float, str] | None:
    if not text:
        return None
    at, sep, run_id = text.rpartition(":")
    try:
        value = float(at)
    except ValueError:
        value = math.nan
    if not sep or not math.isfinite(value) or not run_id.isalnum():
        raise Refused(400, "bad_request", f"{field}={text!r} is not a cursor this API returned")
    return value, run_id


def _cursor_text(cursor: tuple[float, str] | None) -> str | None:
    return f"{cursor[0]!r}:{cursor[1]}" if cursor else None


# -- runs ----------------------------------------------------------------------------------------


@router.get("/info", response_model=Info, tags=["dashboard"])
async def info(request: Request) -> dict[str, Any]:
    """The dashboard's version, stores and whether actions are enabled; the pipelines known."""
    state = _state(request)
    settings = state.ws.settings
    return {
        "version": __version__,
        "root": str(settings.root),
        "db": sa.make_url(settings.db).render_as_string(hide_password=True),
        "artifacts": settings.artifacts,
        "actions": state.api_key is not None,
        "pipelines": await state.call(queries.pipelines, state.ws.metadata),
    }


@router.get("/runs", response_model=RunPage, tags=["runs"])
async def runs(
    request: Request,
    pipeline: Annotated[str | None, Query(description="Only runs of this pipeline.")] = None,
    status: Annotated[
        RunStatus | None,
        Query(
            description="running, succeeded, failed or interrupted (a run whose runner died "
            "counts as interrupted); another value is a 400."
        ),
    ] = None,
    since: Annotated[float | None, Query(description="Started at or after (UNIX seconds).")] = None,
    until: Annotated[float | None, Query(description="Started before (UNIX seconds).")] = None,
    params: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Parameter search: `key=value` terms match a parameter exactly, other "
            "words anywhere in the parameters; all terms must match.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Runs per page.")] = 50,
    after: Annotated[
        str | None,
        Query(description="A `next` cursor: the page of runs older than it."),
    ] = None,
    before: Annotated[
        str | None,
        Query(
            description="A `prev` cursor: the page of runs newer than it (the first page once "
            "fewer than `limit` runs are newer)."
        ),
    ] = None,
    count: Annotated[
        bool, Query(description="Also count the matching runs (`total`, `offset`).")
    ] = True,
) -> dict[str, Any]:
    """Runs, newest first, filtered and paged on the server by keyset in both directions: a page
    is named by its cursor alone, so a link to it can be reloaded or bookmarked."""
    state = _state(request)
    f = queries.RunFilter(pipeline, status, since, until, params)
    older, newer = _cursor(after, "after"), _cursor(before, "before")
    if older is not None and newer is not None:
        raise Refused(400, "bad_request", "after, before: give one cursor, not both")

    def page() -> dict[str, Any]:
        meta = state.ws.metadata
        found = queries.list_runs(meta, f, limit=limit, after=older, before=newer)
        total = offset = None
        if count:
            top = found.newer is None  # the first page (or an empty one)
            offset = 0 if top else queries.count_newer(meta, f, found.newer)
            # one page holds them all: no second scan to count them
            alone = top and older is None and found.older is None
            total = len(found.runs) if alone else queries.count_runs(meta, f)
        return {
            "runs": found.runs,
            "total": total,
            "offset": offset,
            "next": _cursor_text(found.older),
            "prev": _cursor_text(found.newer),
        }

    return await state.call(page)


@router.get("/runs/{run_id}", response_model=RunDetail, responses=ERRORS, tags=["runs"])
async def run(
    request: Request,
    run_id: Annotated[str, Path(description="Run id, unique prefix, or `latest`.")],
) -> dict[str, Any]:
    """A run with its steps laid out as a DAG and its metrics; `live` while it runs."""
    state = _state(request)
    return await state.call(views.run_detail, state.ws, run_id)


@router.get(
    "/runs/{run_id}/steps/{name}", response_model=StepDetail, responses=ERRORS, tags=["runs"]
)
async def step(
    request: Request,
    run_id: Annotated[str, Path(description="Run id, unique prefix, or `latest`.")],
    name: Annotated[str, Path(description="The step's name in the run (e.g. `train`).")],
) -> dict[str, Any]:
    """One step of a run: logged params, inputs/outputs, metrics, output and error; for a step
    not recorded, its `state` (running, ready, pending, interrupted, not-run) and what it
    `waits_for`. A name that is not a step of the run is a 404."""
    state = _state(request)
    return await state.call(views.step_detail, state.ws, run_id, name)


@router.get("/compare", response_model=CompareOut, responses=ERRORS, tags=["runs"])
async def compare(
    request: Request,
    runs: Annotated[str, Query(description="Comma-separated run ids (1 to 20).")],
) -> dict[str, Any]:
    """Runs side by side: parameters (differing first) and metrics."""
    ids = [r.strip() for r in runs.split(",") if r.strip()]
    if not 1 <= len(ids) <= 20:
        raise Refused(400, "bad_request", f"runs: give 1 to 20 run ids, got {len(ids)}")
    state = _state(request)
    return await state.call(views.compare, state.ws, ids)


class RerunBody(BaseModel):
    mode: str = Field("rerun", pattern="^(rerun|resume)$", description="rerun | resume")


@router.post(
    "/runs/{run_id}/rerun",
    response_model=RerunResult,
    status_code=202,
    responses=ACTION_ERRORS,
    tags=["actions"],
)
async def rerun(
    request: Request,
    run_id: Annotated[str, Path(description="Run id or unique prefix.")],
    body: Annotated[RerunBody, Body()] = RerunBody(),  # noqa: B008 - FastAPI's idiom
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Run the pipeline again with the run's parameters and cache setting (`conveyor run`, with
    `--no-cache` if the run had it), or `resume` a failed run; answers once the new run is
    recorded (or after 15 s with `run_id` null)."""
    state = _state(request)
    state.authorize(authorization)
    meta = state.ws.metadata
    full = await state.call(queries.run_id, meta, run_id)
    return await state.call(actions.relaunch, state.ws, full, body.mode)


# -- artifacts -----------------------------------------------------------------------------------


@router.get(
    "/artifacts/{artifact_id}", response_model=ArtifactOut, responses=ERRORS, tags=["artifacts"]
)
async def artifact(
    request: Request,
    artifact_id: Annotated[str, Path(description="Artifact id or unique prefix.")],
) -> dict[str, Any]:
    """An artifact: type, format, size, producer, preview and (DataFrames) column statistics."""
    state = _state(request)
    return await state.call(views.artifact_detail, state.ws, artifact_id)


@router.get(
    "/artifacts/{artifact_id}/lineage",
    response_model=LineageOut,
    responses=ERRORS,
    tags=["artifacts"],
)
async def lineage(
    request: Request,
    artifact_id: Annotated[str, Path(description="Artifact id or unique prefix.")],
    depth: Annotated[int, Query(ge=1, le=10, description="Levels up and down.")] = 3,
) -> dict[str, Any]:
    """The steps and artifacts upstream and downstream of an artifact, laid out as a graph."""
    state = _state(request)
    meta = state.ws.metadata

    def build() -> dict[str, Any]:
        full = queries.artifact_id(meta, artifact_id)
        meta.get_artifact(full)  # 404 for an unknown id
        return artifact_lineage(meta, full, depth=depth)

    return await state.call(build)


# -- models --------------------------------------------------------------------------------------


@router.get("/models", response_model=list[ModelSummary], tags=["models"])
async def models(request: Request) -> list[dict[str, Any]]:
    """Every registered model with its version count, latest version and aliases."""
    state = _state(request)
    return await state.call(views.models, state.ws)


@router.get("/models/{name}", response_model=ModelOut, responses=ERRORS, tags=["models"])
async def model(request: Request, name: str) -> dict[str, Any]:
    """A model's versions (metrics, signature, evaluation, lineage to data and code), its
    aliases and their history."""
    state = _state(request)
    return await state.call(views.model_detail, state.ws, name)


class PromoteBody(BaseModel):
    version: int = Field(ge=1)
    alias: str = Field("production", max_length=100)
    reason: str | None = Field(None, max_length=2000)


class RollbackBody(BaseModel):
    alias: str = Field("production", max_length=100)
    reason: str | None = Field(None, max_length=2000)


@router.post(
    "/models/{name}/promote",
    response_model=ActionResult,
    responses=ACTION_ERRORS,
    tags=["actions"],
)
async def promote(
    request: Request,
    name: str,
    body: PromoteBody,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Point an alias at a version (recorded as by "conveyor ui", with the reason)."""
    state = _state(request)
    state.authorize(authorization)
    event = await state.call(actions.promote, state.ws, name, body.version, body.alias, body.reason)
    return {"event": event}


@router.post(
    "/models/{name}/rollback",
    response_model=ActionResult,
    responses=ACTION_ERRORS,
    tags=["actions"],
)
async def rollback(
    request: Request,
    name: str,
    body: RollbackBody,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Move an alias back to the version it pointed at before."""
    state = _state(request)
    state.authorize(authorization)
    event = await state.call(actions.rollback, state.ws, name, body.alias, body.reason)
    return {"event": event}


# -- monitoring ----------------------------------------------------------------------------------


@router.get("/monitoring", response_model=MonitoringOverview, tags=["monitoring"])
async def monitoring_overview(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """Monitored models (last verdict) and trigger firings with the runs they started."""
    state = _state(request)
    return await state.call(views.monitoring_overview, state.ws, limit)


@router.get(
    "/monitoring/{model}",
    response_model=MonitoringModelOut,
    responses=ERRORS,
    tags=["monitoring"],
)
async def monitoring_model(
    request: Request,
    model: str,
    since: Annotated[float | None, Query(description="Only results since (UNIX seconds).")] = None,
) -> dict[str, Any]:
    """Drift per feature over time and the drift share, each point with the threshold its
    report was judged by; quality and performance series; the latest report (its thresholds,
    numbers and warnings); and the firings of the triggers watching the model."""
    state = _state(request)
    return await state.call(views.monitoring_model, state.ws, model, since)


@router.get("/monitoring/{model}/histograms", response_model=HistogramsOut, tags=["monitoring"])
async def histograms(request: Request, model: str) -> dict[str, Any]:
    """Reference and current distribution per feature of the latest report, with a `note`.

    `source` says where they come from: `report` — stored with the report (every report since
    schema 0006); for older reports, `log` — recomputed from the report's prediction-log window,
    or `reference` — the reference alone, when the report's data was given directly. A model
    without results answers `source` null and no features."""
    state = _state(request)
    return await state.call(monitoring.histograms, state.ws, model)


@router.get("/triggers", response_model=list[TriggerEventOut], tags=["monitoring"])
async def triggers(
    request: Request,
    trigger: Annotated[str | None, Query(description="Only this trigger's firings.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Trigger firings, newest first: what fired, why, and the run it started."""
    state = _state(request)

    def read() -> list[dict[str, Any]]:
        events = TriggerStore(state.ws.metadata).history(trigger, limit=limit)
        return [dataclasses.asdict(e) for e in events]

    return await state.call(read)
