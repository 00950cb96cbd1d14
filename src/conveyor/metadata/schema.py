"""The metadata tables (SQLAlchemy Core); Alembic migrations in `migrations/` create them.

Times are UNIX epoch seconds (float): portable across SQLite and PostgreSQL, cheap to compare,
and shown in local time by the CLI and UI. JSON-valued columns hold canonical JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa

from conveyor.metadata.revision import SCHEMA_REVISION

__all__ = ["SCHEMA_REVISION", "metadata"]

metadata = sa.MetaData()

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # hash of name + version
    sa.Column("name", sa.String(200), nullable=False, index=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # the traced DAG, same for every run of this version: [[node, step, [upstream], map_over]]
    sa.Column("graph", sa.Text),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("pipeline_version", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("cache", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("error", sa.Text),
    sa.Column("outputs", sa.Text),  # {"pipeline output": "artifact id"}
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.String(64)),
    sa.Column("python_version", sa.String(32)),
    sa.Column("packages", sa.Text),
    sa.Column("source_file", sa.Text),
    sa.Column("pipeline_ref", sa.Text),  # "path/to/file.py:name", for resume and reproduce
    sa.Column("resumed_from", sa.String(32)),  # the run this one continues
    sa.Column("heartbeat_at", sa.Float),  # refreshed while the runner lives
    sa.Column("environment_id", sa.String(32)),  # every installed package: `environments`
    sa.Column("running", sa.Text),  # JSON list: steps executing for a while, as last seen
    sa.Index("ix_runs_started_at", "started_at"),
    sa.Index("ix_runs_pipeline_started_at", "pipeline", "started_at"),
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("node", sa.String(300), nullable=False),
    sa.Column("step", sa.String(300), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("cache_key", sa.String(64)),
    sa.Column("origin_id", sa.String(32)),  # for a cached step: the step run that computed it
    sa.Column("started_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("seed", sa.BigInteger),  # the seed Conveyor set for this step (cv.seed())
    sa.Column("error_type", sa.String(300)),
    sa.Column("error_message", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("stdout", sa.Text),
    sa.Column("stderr", sa.Text),
    sa.Column("arguments", sa.Text),  # JSON: the literal arguments the step was called with
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("type_name", sa.String(300), nullable=False),
    sa.Column("materializer", sa.String(100), nullable=False),
    sa.Column("materializer_version", sa.Integer, nullable=False),
    sa.Column("safe", sa.Boolean, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("producer_id", sa.String(32)),  # the step run that first wrote it
    sa.Column("created_at", sa.Float, nullable=False),
)

lineage = sa.Table(
    "lineage",
    metadata,
    sa.Column("step_run_id", sa.String(32), sa.ForeignKey("step_runs.id"), primary_key=True),
    sa.Column("direction", sa.String(3), primary_key=True),  # "in" | "out"
    sa.Column("name", sa.String(300), primary_key=True),  # argument or output name
    sa.Column("artifact_id", sa.String(64), sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Index("ix_lineage_artifact", "artifact_id", "direction"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("step_run_id", sa.String(32), sa.ForeignKey("step_runs.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("step", sa.Integer),
    sa.Column("logged_at", sa.Float, nullable=False),
)

step_params = sa.Table(
    "step_params",
    metadata,
    sa.Column("step_run_id", sa.String(32), sa.ForeignKey("step_runs.id"), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("value", sa.Text, nullable=False),
)

cache_entries = sa.Table(
    "cache_entries",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("step_run_id", sa.String(32), nullable=False),
    sa.Column("outputs", sa.Text, nullable=False),  # {"output name": "artifact id"}
    sa.Column("created_at", sa.Float, nullable=False),
)

step_attempts = sa.Table(
    "step_attempts",
    metadata,
    sa.Column("step_run_id", sa.String(32), sa.ForeignKey("step_runs.id"), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # failed | timed_out | succeeded
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=False),
    sa.Column("error_type", sa.String(300)),
    sa.Column("error_message", sa.Text),
)

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # hash of Python version + packages
    sa.Column("python_version", sa.String(32), nullable=False),
    sa.Column("packages", sa.Text, nullable=False),  # {"name": "version"} of every distribution
    sa.Column("created_at", sa.Float, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("artifact_id", sa.String(64), sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Column("run_id", sa.String(32)),  # the run that trained it
    sa.Column("step_run_id", sa.String(32)),  # the step that produced the model artifact
    sa.Column("metrics", sa.Text, nullable=False),  # {"accuracy": 0.97, ...}
    sa.Column("signature", sa.Text, nullable=False),  # input schema: {"column": "dtype"}
    sa.Column("evaluation", sa.Text, nullable=False),  # the gate decision it passed, if any
    sa.Column("data", sa.Text, nullable=False),  # {"name": "artifact id"} it was trained on
    sa.Column("description", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Index("ix_model_versions_artifact", "artifact_id"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("alias", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("updated_by", sa.String(200)),
    sa.Column("reason", sa.Text),
)

alias_events = sa.Table(
    "alias_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # promote | rollback
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("previous_version", sa.Integer),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("by", sa.String(200)),
    sa.Column("reason", sa.Text),
    sa.Index("ix_alias_events_name_alias", "name", "alias"),
)

log_segments = sa.Table(
    "log_segments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # predictions | feedback
    sa.Column("artifact_id", sa.String(64), sa.ForeignKey("artifacts.id"), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("first_at", sa.Float, nullable=False),  # the oldest record's timestamp
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("versions", sa.Text, nullable=False),  # JSON list of the model versions in it
    sa.Column("writer", sa.String(200)),  # host:pid of the server that wrote it
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_log_segments_model_kind_last", "model", "kind", "last_at"),
)

model_references = sa.Table(
    "model_references",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("statistics", sa.Text, nullable=False),  # per-column and prediction statistics
    sa.Column("data_id", sa.String(64)),  # the artifact the statistics describe (a sample source)
    sa.Column("created_at", sa.Float, nullable=False),
)

monitor_results = sa.Table(
    "monitor_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.String(32), nullable=False),  # one `conveyor monitor` evaluation
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("window_start", sa.Float),
    sa.Column("window_end", sa.Float),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # drift | prediction | quality | performance
    sa.Column("feature", sa.String(300)),  # None: the whole dataset
    sa.Column("metric", sa.String(64), nullable=False),  # psi, ks_pvalue, drift_share, accuracy...
    sa.Column("value", sa.Float),
    sa.Column("drifted", sa.Boolean),
    sa.Column("details", sa.Text),  # JSON: a drifted feature's reference and current histogram
    sa.Index("ix_monitor_results_model_at", "model", "at"),
)

trigger_events = sa.Table(
    "trigger_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trigger", sa.String(200), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),  # what fired: a schedule slot, a hash, ...
    sa.Column("fired_at", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # started | succeeded | failed | skipped
    sa.Column("pipeline", sa.Text),
    sa.Column("params", sa.Text),
    sa.Column("run_id", sa.String(32)),  # chosen and recorded before the run is launched
    sa.Column("pid", sa.Integer),  # the `conveyor run` process
    sa.Column("host", sa.String(200)),  # the watcher's machine, which launches the run
    sa.Column("finished_at", sa.Float),
    sa.UniqueConstraint("trigger", "key", name="uq_trigger_events_trigger_key"),
)

trigger_checks = sa.Table(
    "trigger_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trigger", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("error", sa.Text),  # why the check failed; None: it ran
    sa.Column("warnings", sa.Text, nullable=False),  # JSON list: problems of the data it saw
    sa.Column("host", sa.String(200)),  # the watcher's machine
    sa.Index("ix_trigger_checks_trigger_id", "trigger", "id"),
)
