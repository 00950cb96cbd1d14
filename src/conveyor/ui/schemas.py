"""The JSON API's response shapes: what /api/openapi.json documents and scripts can rely on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "ActionResult",
    "AliasEventOut",
    "ArtifactOut",
    "CompareOut",
    "HistogramsOut",
    "Info",
    "LineageOut",
    "ModelOut",
    "ModelSummary",
    "MonitoringModelOut",
    "MonitoringOverview",
    "Origin",
    "Problem",
    "RerunResult",
    "RunDetail",
    "RunPage",
    "StepDetail",
    "TriggerEventOut",
]


class Problem(BaseModel):
    error: str = Field(description="A short kind: not_found, bad_request, read_only, auth, ...")
    detail: str = Field(description="What went wrong, naming the id or field.")


class Info(BaseModel):
    version: str
    root: str
    db: str = Field(description="The metadata store, password hidden.")
    artifacts: str
    actions: bool = Field(description="Whether promote/rollback/re-run are enabled (API key).")
    pipelines: list[str]


class RunSummary(BaseModel):
    id: str
    pipeline: str
    pipeline_version: str
    status: str = Field(description="running | succeeded | failed | interrupted")
    params: dict[str, Any]
    cache: bool
    started_at: float
    ended_at: float | None = None
    duration_s: float | None = None
    error: str | None = None
    git_commit: str | None = None
    git_dirty: str | None = None
    resumed_from: str | None = None
    pipeline_ref: str | None = None
    seen_s: float | None = Field(
        None,
        description="A run whose runner died, its end unrecorded: seconds from its start to "
        "its last heartbeat (it ran at least that long).",
    )


class RunPage(BaseModel):
    runs: list[RunSummary]
    total: int | None = Field(description="Runs matching the filters (null when not counted).")
    offset: int | None = Field(
        description="Matching runs newer than this page's first: where the page starts "
        "(null when not counted)."
    )
    next: str | None = Field(
        description="Cursor of the next (older) page, for `after=`; null at the end."
    )
    prev: str | None = Field(
        description="Cursor of the previous (newer) page, for `before=`; null on the first page."
    )


class MapItems(BaseModel):
    done: int = Field(description="Items that have ended.")
    started: int = Field(description="Items started (ended or running).")
    total: int | None = Field(
        description="Items due: the length of the list mapped over (null: not recorded)."
    )


class StepSummary(BaseModel):
    id: str | None = Field(description="The step run id; null for a step not recorded yet.")
    name: str
    step: str | None = None
    position: int | None = None
    status: str = Field(
        description="succeeded | failed | timed_out | skipped; interrupted (it was running when "
        "its run was killed: never finished); not-run (the run ended before it); or for a run "
        "in progress: running (busy for 50 ms or more, or printing; a map node while its items "
        "run), ready (its inputs are done) or pending"
    )
    cached: bool = False
    origin_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    attempts: int = 0
    error_type: str | None = None
    error_message: str | None = None
    inputs: dict[str, str] = {}
    outputs: dict[str, str] = {}
    items: MapItems | None = Field(None, description="A map node not recorded yet: its items.")
    x: float
    y: float
    layer: int


class Dag(BaseModel):
    width: float
    height: float
    node_width: float
    node_height: float
    edges: list[tuple[str, str, list[tuple[float, float]]]] = Field(
        description="(upstream step, downstream step, waypoints): an edge spanning several "
        "layers passes through the given slots (top-left corners)."
    )
    complete: bool = Field(description="False while a run is in progress.")
    traced: bool = Field(
        description="The graph is the one traced and stored with the pipeline version (schema "
        "0007 on): every step is known from the start. Else it is rebuilt from lineage."
    )


class MetricPoint(BaseModel):
    step_run_id: str
    step: str | None = Field(description="The step (node) name that logged it.")
    name: str
    value: float | None
    index: int | None = Field(description="The `step=` argument of log_metric, if given.")
    logged_at: float


class LastSeen(BaseModel):
    at: float = Field(description="Its last heartbeat or last step end, whichever is later.")
    by: str = Field(description="heartbeat | step")
    duration_s: float = Field(description="From its start to then: how long it ran at least.")


class RunDetail(BaseModel):
    run: RunSummary
    live: bool = Field(description="The run is in progress: poll again for updates.")
    host: str | None = None
    python_version: str | None = None
    environment_id: str | None = None
    source_file: str | None = None
    outputs: dict[str, str]
    steps: list[StepSummary]
    dag: Dag
    metrics: list[MetricPoint]
    template_run: str | None = Field(
        description="For a live run without a stored graph: the finished run of the same "
        "pipeline version whose graph fills in the steps not recorded yet."
    )
    last_seen: LastSeen | None = Field(
        description="For a run whose runner died (interrupted, no end time): when it was last "
        "known alive."
    )


class ArtifactRef(BaseModel):
    label: str
    artifact_id: str
    type_name: str | None = None
    size: int | None = None


class AttemptOut(BaseModel):
    attempt: int
    status: str
    started_at: float
    ended_at: float
    error_type: str | None = None
    error_message: str | None = None


class Origin(BaseModel):
    step_run_id: str
    run_id: str
    name: str = Field(description="The step's name in that run.")


class StepDetail(BaseModel):
    run_id: str
    name: str
    recorded: bool = Field(
        description="False for a step that has not ended: still running, or never finished "
        "(its live log only)."
    )
    live: bool = Field(description="The run is in progress.")
    state: str | None = Field(
        description="For a step not recorded: running, ready (its inputs are done) or pending "
        "(see `waits_for`) while the run is in progress; interrupted (it was running when the "
        "run stopped) or not-run (the run ended before it) once it is over. Null for a "
        "recorded step."
    )
    waits_for: list[str] = Field(
        [], description="A pending or not-run step: the steps it needs that have not succeeded."
    )
    items: MapItems | None = Field(None, description="A map node not recorded yet: its items.")
    run_status: str | None = Field(None, description="The run's status.")
    origin: Origin | None = Field(
        None, description="For a cache hit: the step run that computed the outputs."
    )
    step: dict[str, Any] | None = Field(description="The step run row (status, times, seed...).")
    params: dict[str, Any] = Field(description="Values logged with cv.log_param.")
    inputs: list[ArtifactRef]
    outputs: list[ArtifactRef]
    metrics: list[MetricPoint]
    attempts: list[AttemptOut]
    stdout: str | None = None
    stderr: str | None = None
    live_log: str | None = Field(description="What a running step has printed so far.")
    traceback: str | None = None
    error_type: str | None = None
    error_message: str | None = None


class Producer(BaseModel):
    step_run_id: str
    run_id: str
    step: str
    code: str
    pipeline: str | None = None
    git_commit: str | None = None


class ModelUse(BaseModel):
    model: str
    version: int
    role: str
    aliases: list[str]


class ArtifactOut(BaseModel):
    id: str
    type_name: str
    materializer: str
    materializer_version: int
    safe: bool
    size: int
    uri: str
    created_at: float
    summary: dict[str, Any]
    value: dict[str, Any] | None = Field(
        None,
        description="A JSON artifact longer than its summary's 500-character preview (up to "
        '256 KiB): `{"json": VALUE}`, the whole value.',
    )
    producer: Producer | None
    consumers: int = Field(description="Step runs that read it.")
    profile: dict[str, Any] | None = Field(
        description="Per-column statistics of a DataFrame (computed on first view)."
    )
    models: list[ModelUse]


class LineageNode(BaseModel):
    id: str = Field(description="a:ARTIFACT_ID or s:STEP_RUN_ID")
    kind: str = Field(description="artifact | step")
    x: float
    y: float
    root: bool = False
    artifact_id: str | None = None
    type_name: str | None = None
    size: int | None = None
    run_id: str | None = None
    node: str | None = None
    step: str | None = None
    status: str | None = None
    cached: bool | None = None
    pipeline: str | None = None
    git_commit: str | None = None
    count: int | None = Field(None, description="Step runs of this name that read the artifact.")


class LineageEdgeOut(BaseModel):
    source: str
    target: str
    label: str = Field(description="The input or output name.")
    points: list[tuple[float, float]] = Field(description="Waypoints of a long edge.")
    passed_through: str | None = Field(
        None,
        description="On an artifact → step edge: the step wrote the artifact back unchanged, "
        "as this output (drawn on the input edge rather than as a loop).",
    )
    back: bool = Field(
        False, description="The edge closes a cycle (equal bytes written twice): not laid out."
    )


class LineageOut(BaseModel):
    artifact_id: str
    nodes: list[LineageNode]
    edges: list[LineageEdgeOut]
    width: float
    height: float
    node_width: float
    node_height: float
    truncated: bool


class CompareRun(BaseModel):
    id: str
    pipeline: str
    status: str
    started_at: float
    params: dict[str, Any]
    metrics: dict[str, float | None] = Field(description="The last value of each metric.")
    series: dict[str, list[tuple[int, float | None]]] = Field(
        description="Metrics logged with step=: (step, value) points."
    )


class CompareOut(BaseModel):
    runs: list[CompareRun]
    params: list[str] = Field(description="Every parameter name, those that differ first.")
    differing: list[str]
    metrics: list[str]


class ModelSummary(BaseModel):
    name: str
    versions: int
    latest: int
    aliases: dict[str, int]
    updated_at: float
    metrics: dict[str, Any] = Field(description="The latest version's metrics.")


class AliasEventOut(BaseModel):
    name: str
    alias: str
    action: str
    version: int
    previous_version: int | None = None
    at: float
    by: str | None = None
    reason: str | None = None


class VersionOut(BaseModel):
    name: str
    version: int
    artifact_id: str
    run_id: str | None = None
    step_run_id: str | None = None
    metrics: dict[str, Any]
    signature: dict[str, Any]
    evaluation: dict[str, Any]
    data: dict[str, str]
    description: str | None = None
    created_at: float
    created_by: str | None = None
    aliases: list[str]
    run: dict[str, Any] | None = Field(
        description="The training run: pipeline, status, git commit and changes, source."
    )
    step: str | None = Field(description="The step that produced the model artifact.")
    has_reference: bool = Field(description="Monitoring reference statistics were captured.")


class ModelOut(BaseModel):
    name: str
    versions: list[VersionOut]
    aliases: dict[str, int]
    history: list[AliasEventOut]


class TriggerEventOut(BaseModel):
    id: int
    trigger: str
    key: str = Field(description="What the firing is for (a schedule slot, a data version...).")
    fired_at: float
    reason: str
    status: str = Field(description="started | succeeded | failed | skipped")
    pipeline: str | None = Field(description="FILE.py:PIPELINE the firing runs.")
    params: dict[str, Any]
    run_id: str | None = Field(description="The run it started, once recorded.")
    pid: int | None = None
    host: str | None = None
    finished_at: float | None = None


class MonitoredModel(BaseModel):
    model: str
    reports: int
    last_at: float | None
    version: int | None = None
    drift_share: float | None = None
    drifted: bool | None = None


class MonitoringOverview(BaseModel):
    models: list[MonitoredModel]
    triggers: list[TriggerEventOut] = Field(description="Trigger firings, newest first.")


class HistogramOut(BaseModel):
    feature: str
    kind: str = Field(description="numeric | categorical")
    drifted: bool | None = Field(description="The report's verdict (null: reference only).")
    labels: list[str] = Field(description="Bin ranges or categories.")
    reference: list[float] = Field(description="Share of the reference data per label.")
    current: list[float] | None = Field(description="Share of the current data (null: none).")


class HistogramsOut(BaseModel):
    report_id: str | None = Field(description="The latest report (null: no results).")
    source: str | None = Field(
        description="report (stored with the report, schema 0006 on), log (recomputed from "
        "the prediction-log window of an older report) or reference (only the reference "
        "distributions: an older report computed on data given directly)."
    )
    note: str
    features: list[HistogramOut]


class MonitoringModelOut(BaseModel):
    model: str
    drift_share: list[dict[str, Any]] = Field(
        description="[{at, value, drifted, version, threshold}]: `threshold` is the share its "
        "report was judged by (the default 0.5 for reports stored without their thresholds)."
    )
    features: dict[str, dict[str, Any]] = Field(
        description="feature → {primary metric, threshold (the latest report's), metrics: "
        "{metric: [[at, value, drifted, version, report_id, threshold], ...]}}: each point "
        "has the threshold of its report (psi or js; null for the other metrics)."
    )
    other: dict[str, dict[str, list[list[Any]]]] = Field(
        description="Prediction drift, quality and performance series."
    )
    latest: dict[str, Any] | None = Field(
        description="The latest report: window, verdict, `thresholds` it was judged by, "
        "features, quality, performance, and `warnings` [{feature, message}]."
    )
    triggers: list[TriggerEventOut] = Field(
        description="Firings of the triggers watching this model (drift, performance), newest "
        "first."
    )


class ActionResult(BaseModel):
    event: AliasEventOut


class RerunResult(BaseModel):
    pid: int
    run_id: str | None = Field(description="The new run, once its runner recorded it.")
    command: list[str]
    log: str
    exit_code: int | None = None
    output: str | None = None
