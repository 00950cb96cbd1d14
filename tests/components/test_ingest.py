"""`ingest`: files and SQL into frames, recorded; content-fingerprinted caching; clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import conveyor as cv
from conveyor.components import ingest
from conveyor.components._ingest import read_source
from conveyor.exceptions import DataError, ParameterError


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
