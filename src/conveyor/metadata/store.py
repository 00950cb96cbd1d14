"""MetadataStore: the only code that talks SQL.

SQLite (the default) runs in WAL mode with a busy timeout and `BEGIN IMMEDIATE` write transactions,
so readers never block the runner and concurrent writers queue instead of failing. PostgreSQL works
through any SQLAlchemy URL (`postgresql+psycopg://…`). A step's facts (its row, the artifacts it
wrote, lineage, metrics, params and its cache entry) are written in one transaction: readers see a
step completely or not at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from conveyor.exceptions import MetadataError, NotFoundError
from conveyor.metadata import schema as t
from conveyor.metadata.liveness import run_record
from conveyor.metadata.records import (
    ArtifactRecord,
    AttemptRecord,
    LineageEdge,
    MetricRecord,
    Reusable,
    RunRecord,
    StepFacts,
    StepRunRecord,
)

__all__ = ["MetadataStore"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class MetadataStore:
    """Runs, step runs, artifacts, lineage, metrics and params in one SQL database."""

    def __init__(self, url: str, *, create: bool = True, check_schema: bool = True) -> None:
        """Open the database at `url`.

        Args:
            create: build the schema when the database is empty.
            check_schema: refuse a database at another schema revision (off for `db upgrade`).
        """
        self.url = url
        self.engine = _engine(url)
        self._local = threading.local()
        self._statements: dict[tuple[Any, ...], str] = {}
        self._opened: list[sa.Connection] = []
        self._lock = threading.Lock()
        # environment and pipeline rows this store has written: a run of a known one skips the
        # insert (for an environment, ~250 packages as JSON on every run)
        self._written: set[tuple[str, str]] = set()
        if check_schema:
            try:
                self._ensure_schema(create)
            except BaseException:
                self.engine.dispose()  # no pooled connection outlives a store that failed to open
                raise

    # -- connection and schema ------------------------------------------------------------------

    def _connection(self, kind: str) -> sa.Connection:
        """This thread's connection for reads ("r") or writes ("w")."""
        conn = getattr(self._local, kind, None)
        if conn is None or conn.closed:
            conn = self.engine.connect()
            if kind == "w":  # SQLite: take the write lock at BEGIN, not mid-transaction
                conn = conn.execution_options(conveyor_immediate=True)
            else:  # single-statement reads need no transaction round trips
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            setattr(self._local, kind, conn)
            with self._lock:
                self._opened.append(conn)
        return conn

    def release_thread(self) -> None:
        """Return this thread's connections to the pool (a worker thread calls it as it ends)."""
        for kind in ("r", "w"):
            conn = getattr(self._local, kind, None)
            if conn is not None:
                conn.close()
                setattr(self._local, kind, None)
                with self._lock:
                    if conn in self._opened:
                        self._opened.remove(conn)

    @property
    def conn(self) -> sa.Connection:
        """This thread's read connection (readers never block writers in WAL mode)."""
        return self._connection("r")

    @property
    def write_conn(self) -> sa.Connection:
        return self._connection("w")

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()
        self.engine.dispose()

    def revision(self) -> str | None:
        """The Alembic revision the database is at, or None for an empty database."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def upgrade(self) -> None:
        """Apply pending Alembic migrations (`conveyor db upgrade`).

        Concurrent callers serialise: SQLite takes its write lock at BEGIN, PostgreSQL an advisory
        lock, so the first migrates and the others find the schema at head.
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.connect() as conn:
            conn = conn.execution_options(conveyor_immediate=True)
            with conn.begin():
                if self.engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7242015)"))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")

    def _ensure_schema(self, create: bool) -> None:
        try:
            current = self.revision()
        except sa.exc.SQLAlchemyError as err:
            raise MetadataError(f"cannot open the metadata store {self._safe_url}: {err}") from None
        if current == t.SCHEMA_REVISION:
            return
        if current is None and create:
            self._create()
            return
        raise MetadataError(
            f"the metadata store {self._safe_url} is at schema revision {current!r}, this Conveyor "
            f"expects {t.SCHEMA_REVISION!r}; run `conveyor db upgrade`"
        )

    def _create(self) -> None:
        """Create the current schema in an empty database and stamp its Alembic revision.

        Equivalent to running every migration (a test compares the two) but without importing
        Alembic or replaying history: a new project's first run starts fast. Concurrent creators
        serialise on the write lock (SQLite) or an advisory lock (PostgreSQL); the later ones find
        the schema in place.
        """
        with self.engine.connect() as conn:
            conn = conn.execution_options(conveyor_immediate=True)
            with conn.begin():
                if self.engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7242015)"))
                if sa.inspect(conn).has_table("alembic_version"):
                    return  # created meanwhile by another process
                try:
                    for statement in _schema_ddl(self.engine.dialect):
                        conn.exec_driver_sql(statement)
                except sa.exc.SQLAlchemyError as err:
                    raise MetadataError(
                        f"cannot create Conveyor's tables in {self._safe_url}, which has no "
                        f"Conveyor schema revision (another application's database?): {err}"
                    ) from None
                conn.execute(
                    sa.text(
                        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                    )
                )
                conn.execute(
                    sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                    {"v": t.SCHEMA_REVISION},
                )

    @property
    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _insert_many(
        self,
        conn: sa.Connection,
        table: sa.Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        ignore: bool,
    ) -> None:
        """Insert rows through the driver's executemany with one fixed statement per table.

        The runner's hot path: SQLAlchemy's per-call statement handling cost more than SQLite's
        work (B2). Columns come from the table definition; values are bound, never formatted in.
        """
        present = {key for row in rows for key in row}
        columns = [c.name for c in table.columns if c.name in present]
        key = (table.name, tuple(columns), ignore)
        sql = self._statements.get(key)
        if sql is None:
            mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
            sql = self._statements[key] = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) "
                f"VALUES ({', '.join([mark] * len(columns))})"
                + (" ON CONFLICT DO NOTHING" if ignore else "")
            )
        conn.exec_driver_sql(sql, [tuple(row.get(c) for c in columns) for row in rows])

    def _insert_ignore(self, table: sa.Table) -> Any:
        """INSERT that skips rows whose primary key exists (content-addressed rows repeat)."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table).on_conflict_do_nothing()

    # -- writes ----------------------------------------------------------------------------------

    def start_run(
        self,
        run: RunRecord,
        packages: Mapping[str, str] | None = None,
        graph: Callable[[], Sequence[Sequence[Any]]] | None = None,
    ) -> None:
        """Record a new run (and its environment's full package list, once per environment).

        `graph` gives the traced DAG, `[[node, step, [upstream nodes], map_over or None], ...]`
        in graph order; it is called only when the pipeline version is new to this store (equal
        versions have equal graphs), so a run of a known version does not build it."""
        conn = self.write_conn
        environment = ("environment", run.environment_id or "")
        pipeline = ("pipeline", _pipeline_id(run.pipeline, run.pipeline_version))
        with_environment = bool(run.environment_id) and packages is not None
        with conn.begin():
            if with_environment and environment not in self._written:
                conn.execute(
                    self._insert_ignore(t.environments),
                    {
                        "id": run.environment_id,
                        "python_version": run.python_version or "",
                        "packages": _dumps(dict(packages)),
                        "created_at": run.started_at,
                    },
                )
            if pipeline not in self._written:
                conn.execute(
                    self._insert_ignore(t.pipelines),
                    {
                        "id": pipeline[1],
                        "name": run.pipeline,
                        "version": run.pipeline_version,
                        "created_at": run.started_at,
                        "graph": None if graph is None else _dumps([list(n) for n in graph()]),
                    },
                )
            conn.execute(t.runs.insert(), _run_row(run))
        if with_environment:
            self._written.add(environment)
        self._written.add(pipeline)

    def finish_run(
        self,
        run_id: str,
        status: str,
        ended_at: float,
        error: str | None,
        outputs: Mapping[str, str] | None = None,
        code: tuple[str | None, str | None] | None = None,
        steps: Sequence[StepFacts] = (),
    ) -> None:
        """Close a run: status, end time, error, outputs, and `code`: (git commit, changes hash).

        `steps` not yet recorded are written in the same transaction: one commit where there
        were two, and no moment when the run reads as finished without its last steps.
        """
        conn = self.write_conn
        with conn.begin():
            if steps:
                self._write_steps(conn, steps)
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(
                    status=status,
                    ended_at=ended_at,
                    duration_s=sa.literal(ended_at) - t.runs.c.started_at,
                    error=error,
                    outputs=_dumps(dict(outputs or {})),
                    running=None,
                    **({"git_commit": code[0], "git_dirty": code[1]} if code else {}),
                )
            )

    def record_step(
        self,
        step_run: StepRunRecord,
        *,
        artifacts: Sequence[Mapping[str, Any]] = (),
        metrics: Iterable[tuple[str, float, int | None]] = (),
        params: Mapping[str, Any] | None = None,
        cache_outputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a finished step run with everything it produced, atomically.

        Args:
            step_run: the row; its `inputs`/`outputs` become lineage edges.
            artifacts: rows for newly written artifacts (keys as the `artifacts` table).
            metrics: (name, value, step) triples logged by the step.
            params: values logged with `log_param`.
            cache_outputs: when given, {output: {"id", "m", "v"}} becomes the cache entry for
                `step_run.cache_key` (the first writer of a key wins; later ones are identical).
        """
        self.record_steps(
            [StepFacts(step_run, list(artifacts), list(metrics), dict(params or {}), cache_outputs)]
        )

    def record_steps(self, batch: Sequence[StepFacts]) -> None:
        """Write several finished step runs in one transaction (the runner's group commit)."""
        if not batch:
            return
        conn = self.write_conn
        with conn.begin():
            self._write_steps(conn, batch)

    def _write_steps(self, conn: sa.Connection, batch: Sequence[StepFacts]) -> None:
        now = time.time()
        artifacts: list[Mapping[str, Any]] = []
        steps, edges, metric_rows, param_rows, cache_rows, attempts = [], [], [], [], [], []
        for facts in batch:
            run = facts.step_run
            artifacts += facts.artifacts
            steps.append(_step_row(run))
            for direction, mapping in (("in", run.inputs), ("out", run.outputs)):
                edges += [
                    {"step_run_id": run.id, "direction": direction, "name": k, "artifact_id": v}
                    for k, v in mapping.items()
                ]
            metric_rows += [
                {
                    "run_id": run.run_id,
                    "step_run_id": run.id,
                    "name": name,
                    "value": value,
                    "step": index,
                    "logged_at": now,
                }
                for name, value, index in facts.metrics
            ]
            param_rows += [
                {"step_run_id": run.id, "run_id": run.run_id, "name": k, "value": _dumps(v)}
                for k, v in facts.params.items()
            ]
            attempts += [{"step_run_id": run.id, **vars(a)} for a in facts.attempts]
            if facts.cache_outputs is not None and run.cache_key is not None:
                cache_rows.append(
                    {
                        "key": run.cache_key,
                        "step_run_id": run.id,
                        "outputs": _dumps(facts.cache_outputs),
                        "created_at": now,
                    }
                )
        metric_rows += self._inherited(conn, batch, t.metrics)
        param_rows += self._inherited(conn, batch, t.step_params)
        for table, rows, ignore in (
            (t.artifacts, artifacts, True),
            (t.step_runs, steps, False),
            (t.lineage, edges, False),
            (t.metrics, metric_rows, False),
            (t.step_params, param_rows, False),
            (t.step_attempts, attempts, False),
            (t.cache_entries, cache_rows, True),
        ):
            if rows:
                self._insert_many(conn, table, rows, ignore=ignore)

    def _inherited(
        self, conn: sa.Connection, batch: Sequence[StepFacts], table: sa.Table
    ) -> list[dict[str, Any]]:
        """Rows of `table` (metrics or params) that cache hits carry over from their origins."""
        hits = {
            f.step_run.origin_id: f.step_run for f in batch if f.step_run.origin_id and f.inherit
        }
        if not hits:
            return []
        rows = conn.execute(sa.select(table).where(table.c.step_run_id.in_(list(hits)))).all()
        copied = []
        for row in rows:
            data = {k: v for k, v in row._mapping.items() if k != "id"}  # new autoincrement ids
            hit = hits[row.step_run_id]
            data.update(step_run_id=hit.id, run_id=hit.run_id)
            copied.append(data)
        return copied

    def artifact_ids(self) -> set[str]:
        """Ids of every recorded artifact (what `gc` must keep)."""
        return {row[0] for row in self._read(sa.select(t.artifacts.c.id))}

    def artifacts(self) -> list[ArtifactRecord]:
        """Every recorded artifact (for `artifacts verify`)."""
        return [_artifact_record(r) for r in self._read(sa.select(t.artifacts))]

    def attempts(self, step_run_id: str) -> list[AttemptRecord]:
        rows = self._read(
            sa.select(t.step_attempts)
            .where(t.step_attempts.c.step_run_id == step_run_id)
            .order_by(t.step_attempts.c.attempt)
        )
        return [
            AttemptRecord(
                r.attempt, r.status, r.started_at, r.ended_at, r.error_type, r.error_message
            )
            for r in rows
        ]

    def environment(self, environment_id: str) -> dict[str, str]:
        """Every package (name → version) installed where a run ran."""
        rows = self._read(
            sa.select(t.environments.c.packages).where(t.environments.c.id == environment_id)
        )
        if not rows:
            raise NotFoundError(f"no environment with id {environment_id!r}")
        return json.loads(rows[0][0])

    def heartbeat(self, run_id: str, running: Sequence[str] | None = None) -> None:
        """Mark the run's runner as alive now; `running` also says which steps it is executing."""
        values: dict[str, Any] = {"heartbeat_at": time.time()}
        if running is not None:
            values["running"] = _dumps(list(running))
        conn = self.write_conn
        with conn.begin():
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values))

    def pipeline_graph(self, pipeline: str, version: str) -> list[list[Any]] | None:
        """The traced DAG stored with a pipeline version (see `start_run`), or None before 0007."""
        rows = self._read(
            sa.select(t.pipelines.c.graph).where(
                t.pipelines.c.id == _pipeline_id(pipeline, version)
            )
        )
        return json.loads(rows[0][0]) if rows and rows[0][0] else None

    def reusable_steps(self, run_id: str) -> dict[str, Reusable]:
        """Steps that succeeded in `run_id`, with their outputs, for `resume`."""
        rows = self._read(
            sa.select(
                t.step_runs.c.id,
                t.step_runs.c.node,
                t.step_runs.c.cache_key,
                t.lineage.c.name,
                t.artifacts.c.id.label("artifact"),
                t.artifacts.c.materializer,
                t.artifacts.c.materializer_version,
            )
            .join(t.lineage, t.lineage.c.step_run_id == t.step_runs.c.id)
            .join(t.artifacts, t.artifacts.c.id == t.lineage.c.artifact_id)
            .where(
                t.step_runs.c.run_id == run_id,
                t.step_runs.c.status == "succeeded",
                t.lineage.c.direction == "out",
            )
        )
        found: dict[str, Reusable] = {}
        for r in rows:
            entry = found.setdefault(r.node, Reusable(r.id, r.cache_key, {}))
            entry.outputs[r.name] = {
                "id": r.artifact,
                "m": r.materializer,
                "v": r.materializer_version,
            }
        return found

    # -- cache -----------------------------------------------------------------------------------

    def cache_lookup(self, key: str) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """(origin step run id, {output: {"id", "m", "v"}}) for a cache key, or None."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        row = self.conn.exec_driver_sql(
            f"SELECT step_run_id, outputs FROM cache_entries WHERE key = {mark}", (key,)
        ).first()
        return None if row is None else (row[0], json.loads(row[1]))

    def forget_cache(self, key: str) -> None:
        """Drop a cache entry whose artifacts turned out to be missing."""
        conn = self.write_conn
        with conn.begin():
            conn.execute(t.cache_entries.delete().where(t.cache_entries.c.key == key))

    # -- reads -----------------------------------------------------------------------------------

    def _read(self, statement: Any) -> list[sa.Row]:
        return list(self.conn.execute(statement).all())

    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the run whose id starts with `prefix` (or "latest")."""
        if prefix == "latest":
            rows = self._read(sa.select(t.runs.c.id).order_by(t.runs.c.started_at.desc()).limit(1))
        else:
            if not prefix or not all(c in "0123456789abcdef" for c in prefix):
                raise NotFoundError(f"{prefix!r} is not a run id")
            rows = self._read(sa.select(t.runs.c.id).where(t.runs.c.id.startswith(prefix)).limit(2))
        if not rows:
            raise NotFoundError(f"no run with id {prefix!r}")
        if len(rows) > 1:
            raise NotFoundError(f"run id prefix {prefix!r} is ambiguous; give more characters")
        return rows[0][0]

    def has_run(self, run_id: str) -> bool:
        return bool(self._read(sa.select(t.runs.c.id).where(t.runs.c.id == run_id)))

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._read(sa.select(t.runs).where(t.runs.c.id == run_id))
        if not rows:
            raise NotFoundError(f"no run with id {run_id!r}")
        return _run_record(rows[0])

    def list_runs(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        query = sa.select(t.runs).order_by(t.runs.c.started_at.desc()).limit(limit)
        if pipeline is not None:
            query = query.where(t.runs.c.pipeline == pipeline)
        return [_run_record(row) for row in self._read(query)]

    def step_runs(self, run_id: str) -> list[StepRunRecord]:
        rows = self._read(
            sa.select(t.step_runs)
            .where(t.step_runs.c.run_id == run_id)
            .order_by(t.step_runs.c.position)
        )
        edges = self._read(
            sa.select(t.lineage)
            .join(t.step_runs, t.step_runs.c.id == t.lineage.c.step_run_id)
            .where(t.step_runs.c.run_id == run_id)
        )
        io: dict[str, dict[str, dict[str, str]]] = {}
        for edge in edges:
            io.setdefault(edge.step_run_id, {"in": {}, "out": {}})[edge.direction][edge.name] = (
                edge.artifact_id
            )
        return [_step_record(row, io.get(row.id, {"in": {}, "out": {}})) for row in rows]

    def metrics(self, run_id: str) -> list[MetricRecord]:
        rows = self._read(
            sa.select(t.metrics).where(t.metrics.c.run_id == run_id).order_by(t.metrics.c.id)
        )
        return [
            MetricRecord(r.run_id, r.step_run_id, r.name, r.value, r.step, r.logged_at)
            for r in rows
        ]

    def step_params(self, run_id: str) -> dict[str, dict[str, Any]]:
        """step run id → {param name: value} logged with `log_param`."""
        result: dict[str, dict[str, Any]] = {}
        for row in self._read(sa.select(t.step_params).where(t.step_params.c.run_id == run_id)):
            result.setdefault(row.step_run_id, {})[row.name] = json.loads(row.value)
        return result

    def resolve_artifact_id(self, prefix: str) -> str:
        if not prefix or not all(c in "0123456789abcdef" for c in prefix):
            raise NotFoundError(f"{prefix!r} is not an artifact id")
        rows = self._read(
            sa.select(t.artifacts.c.id).where(t.artifacts.c.id.startswith(prefix)).limit(2)
        )
        if not rows:
            raise NotFoundError(f"no artifact with id {prefix!r}")
        if len(rows) > 1:
            raise NotFoundError(f"artifact id prefix {prefix!r} is ambiguous; give more characters")
        return rows[0][0]

    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        rows = self._read(sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id))
        if not rows:
            raise NotFoundError(f"no artifact with id {artifact_id!r}")
        return _artifact_record(rows[0])

    def edges(
        self, artifact_id: str | None = None, step_run_id: str | None = None
    ) -> list[LineageEdge]:
        """Lineage edges touching an artifact or a step run."""
        query = sa.select(t.lineage, t.step_runs.c.run_id, t.step_runs.c.node).join(
            t.step_runs, t.step_runs.c.id == t.lineage.c.step_run_id
        )
        if artifact_id is not None:
            query = query.where(t.lineage.c.artifact_id == artifact_id)
        if step_run_id is not None:
            query = query.where(t.lineage.c.step_run_id == step_run_id)
        return [
            LineageEdge(r.step_run_id, r.run_id, r.node, r.direction, r.name, r.artifact_id)
            for r in self._read(query.order_by(t.step_runs.c.started_at))
        ]

    def get_step_run(self, step_run_id: str) -> StepRunRecord:
        rows = self._read(sa.select(t.step_runs).where(t.step_runs.c.id == step_run_id))
        if not rows:
            raise NotFoundError(f"no step run with id {step_run_id!r}")
        io: dict[str, dict[str, str]] = {"in": {}, "out": {}}
        for edge in self.edges(step_run_id=step_run_id):
            io[edge.direction][edge.name] = edge.artifact_id
        return _step_record(rows[0], io)


def _engine(url: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as err:
        raise MetadataError(f"invalid database URL {url!r}: {err}") from None
    if parsed.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(parsed, pool_pre_ping=True)
        except (ImportError, sa.exc.ArgumentError) as err:
            raise MetadataError(
                f"cannot use {parsed.render_as_string(hide_password=True)}: {err} "
                "(for PostgreSQL: pip install 'conveyor[postgres]')"
            ) from None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let "begin" below issue the BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("conveyor_immediate") else "BEGIN")

    return engine


_DDL: dict[str, list[str]] = {}


def _schema_ddl(dialect: sa.Dialect) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements of the schema, compiled once per dialect and
    process (compiling them is half the cost of creating a database); `metadata.create_all`
    without its existence checks, which `_create` has made already."""
    found = _DDL.get(dialect.name)
    if found is None:
        from sqlalchemy.schema import CreateIndex, CreateTable

        found = []
        for table in t.metadata.sorted_tables:
            found.append(str(CreateTable(table).compile(dialect=dialect)).strip())
            found += [str(CreateIndex(i).compile(dialect=dialect)) for i in table.indexes]
        _DDL[dialect.name] = found
    return found


def _pipeline_id(name: str, version: str) -> str:
    from conveyor.core.hashing import digest

    return digest(name.encode(), version.encode())


def _run_row(run: RunRecord) -> dict[str, Any]:
    row = {f: getattr(run, f) for f in (c.name for c in t.runs.columns)}
    row["params"] = _dumps(run.params)
    row["packages"] = _dumps(run.packages)
    row["outputs"] = _dumps(run.outputs)
    row["running"] = _dumps(run.running) if run.running else None
    return row


def _run_record(row: sa.Row) -> RunRecord:
    return run_record(row._mapping)


def _step_row(step: StepRunRecord) -> dict[str, Any]:
    row = {c.name: getattr(step, c.name, None) for c in t.step_runs.columns}
    row["node"] = step.name
    row["arguments"] = _dumps(step.arguments) if step.arguments else None
    return row


def _step_record(row: sa.Row, io: Mapping[str, dict[str, str]]) -> StepRunRecord:
    data = dict(row._mapping)
    data["name"] = data.pop("node")
    data["cached"] = bool(data["cached"])
    data["arguments"] = json.loads(data["arguments"] or "{}")
    return StepRunRecord(**data, inputs=dict(io["in"]), outputs=dict(io["out"]))


def _artifact_record(r: sa.Row) -> ArtifactRecord:
    return ArtifactRecord(
        id=r.id,
        type_name=r.type_name,
        materializer=r.materializer,
        materializer_version=r.materializer_version,
        safe=bool(r.safe),
        size=r.size,
        uri=r.uri,
        summary=json.loads(r.summary),
        producer_id=r.producer_id,
        created_at=r.created_at,
    )
