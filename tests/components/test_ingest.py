"""`ingest`: files and SQL into frames, recorded; content-fingerprinted caching; clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import conveyor as cv
from conveyor.components import _ingest, ingest
from conveyor.components._ingest import read_source
from conveyor.exceptions import DataError, GraphError, ParameterError


@cv.step
def count(data: pd.DataFrame) -> int:
    return len(data)


@cv.pipeline
def loading(source: str, query: str | None = None):
    return count(ingest(source, query=query))


def test_csv_parquet_and_tsv_read_the_same_frame(penguins_csv: Path, project: Path) -> None:
    frame, facts = read_source(str(penguins_csv))
    assert frame.shape == (344, 8) and facts["format"] == "csv"
    parquet = project / "p.parquet"
    frame.to_parquet(parquet)
    tsv = project / "p.tsv"
    frame.to_csv(tsv, sep="\t", index=False)
    pd.testing.assert_frame_equal(read_source(str(parquet))[0], frame)
    pd.testing.assert_frame_equal(read_source(str(tsv))[0], frame)


def test_a_run_records_source_hash_rows_and_columns(penguins_csv: Path, workspace) -> None:
    run = loading.run(source=str(penguins_csv))
    assert run.output() == 344
    params = workspace.metadata.step_params(run.id)[run.step("ingest").id]
    assert params["source"] == str(penguins_csv) and params["format"] == "csv"
    assert len(params["content_hash"]) == 64
    metrics = {m.name: m.value for m in workspace.metadata.metrics(run.id)}
    assert metrics["rows"] == 344 and metrics["columns"] == 8


def test_unchanged_file_hits_the_cache_changed_file_gives_a_new_artifact(
    penguins_csv: Path,
) -> None:
    first = loading.run(source=str(penguins_csv))
    second = loading.run(source=str(penguins_csv))
    assert second.step("ingest").cached and second.step("count").cached
    lines = penguins_csv.read_text().splitlines()
    penguins_csv.write_text("\n".join(lines[:-10]) + "\n")  # same path, new content
    third = loading.run(source=str(penguins_csv))
    assert not third.step("ingest").cached
    assert third.output() == 334
    assert third.step("ingest").outputs["output"] != first.step("ingest").outputs["output"]


@pytest.mark.usefixtures("project")
def test_sql_query_on_sqlite_and_postgresql(metadata_url: str, penguins: pd.DataFrame) -> None:
    engine = sa.create_engine(metadata_url)
    try:
        penguins.to_sql("penguins", engine, index=False)
    finally:
        engine.dispose()
    query = "SELECT species, body_mass_g FROM penguins WHERE island = 'Biscoe'"
    run = loading.run(source=metadata_url, query=query)
    assert run.output() == int((penguins["island"] == "Biscoe").sum())
    again = loading.run(source=metadata_url, query=query)
    # a database is live: the query runs again, and the unchanged rows are the same artifact
    assert not again.step("ingest").cached and again.step("count").cached


def test_sql_password_is_not_recorded() -> None:
    with pytest.raises(DataError) as err:
        read_source("postgresql://bob:hunter2@127.0.0.1:1/db", query="SELECT 1")
    assert "hunter2" not in str(err.value) and "127.0.0.1:1" in str(err.value)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_bytes(b'a,b\n1,"2\n'), "is not valid CSV"),
    ],
    ids=["missing", "empty", "malformed"],
)
def test_bad_files_fail_the_step_naming_the_file(project: Path, setup, message: str) -> None:
    path = project / "data.csv"
    setup(path)
    run = loading.run(source=str(path))
    assert run.status == "failed"
    failed = run.step("ingest")
    assert message in failed.error_message and str(path) in failed.error_message
    assert run.step("count").status == "skipped"


def test_bad_sources_name_the_problem(project: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_source("sqlite:///" + str(project / "nope.db"), query="SELECT 1")
    with pytest.raises(ParameterError, match="needs query="):
        read_source("sqlite:///x.db")
    with pytest.raises(ParameterError, match="cannot tell the format"):
        read_source(str(project / "data.xlsx"))
    path = project / "empty.db"
    path.touch()
    with pytest.raises(DataError, match="no such table"):
        read_source(f"sqlite:///{path}", query="SELECT * FROM missing")


@pytest.mark.parametrize(
    ("source", "query", "message"),
    [
        ("sqlite:///x.db", None, "source='sqlite:///x.db' is a database: give the SQL to run"),
        (
            "postgres://bob:hunter2@127.0.0.1:1/db",
            "SELECT 1",
            "source='postgres://bob:***@127.0.0.1:1/db': unknown database dialect; "
            "SQLAlchemy names the dialect postgresql://, not postgres://",
        ),
    ],
    ids=["sql-without-query", "postgres-scheme"],
)
def test_a_source_that_cannot_work_refuses_the_run_when_traced(
    workspace, source: str, query: str | None, message: str
) -> None:
    with pytest.raises(GraphError, match=re.escape(f"step 'ingest': {message}")):
        loading.run(source=source, query=query)
    assert workspace.metadata.list_runs(limit=10) == []  # refused: no run recorded


def test_a_postgres_url_read_directly_gets_the_same_hint() -> None:
    with pytest.raises(DataError) as err:
        read_source("postgres://bob:hunter2@127.0.0.1:1/db", query="SELECT 1")
    assert "Can't load plugin" in str(err.value) and "hunter2" not in str(err.value)
    assert str(err.value).endswith("names the dialect postgresql://, not postgres://")


def test_a_relative_source_is_recorded_absolute_with_what_was_written(
    penguins_csv: Path, project: Path, workspace
) -> None:
    run = loading.run(source="penguins.csv")  # relative to the working directory
    params = workspace.metadata.step_params(run.id)[run.step("ingest").id]
    assert params["source"] == str(project / "penguins.csv")
    assert params["source_given"] == "penguins.csv"
    absolute = loading.run(source=str(penguins_csv))
    params = workspace.metadata.step_params(absolute.id)[absolute.step("ingest").id]
    assert params["source"] == str(penguins_csv) and "source_given" not in params
    sqlite = project / "p.db"
    pd.read_csv(penguins_csv).to_sql("penguins", f"sqlite:///{sqlite}", index=False)
    _, facts = read_source("sqlite:///p.db", query="SELECT * FROM penguins")
    assert facts["source"] == f"sqlite:///{sqlite}" and facts["source_given"] == "sqlite:///p.db"


def test_a_file_is_hashed_once_per_run(penguins_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = _ingest._file_hash

    def counting(source: str) -> str:
        hashed.append(source)
        return real(source)

    monkeypatch.setattr(_ingest, "_file_hash", counting)
    run = loading.run(source=str(penguins_csv))
    assert run.status == "succeeded" and hashed == [str(penguins_csv)]  # the key's, reused
    again = loading.run(source=str(penguins_csv))
    assert again.step("ingest").cached and len(hashed) == 2  # only the key: nothing was read
    lines = penguins_csv.read_text().splitlines()
    penguins_csv.write_text("\n".join(lines[:-5]) + "\n")
    changed = loading.run(source=str(penguins_csv))
    assert changed.output() == 339 and len(hashed) == 3
