"""`infer_schema`, `validate`, `statistics`: the schema document, anomalies, policies, pinning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import conveyor as cv
from conveyor.components import infer_schema, read_schema, statistics, validate, write_schema
from conveyor.components._schema import validate_frame
from conveyor.exceptions import DataValidationError, GraphError, ParameterError


@pytest.fixture
def schema(penguins: pd.DataFrame) -> dict:
    return infer_schema(penguins)


def _kinds(report: dict) -> dict[tuple[str, str | None], dict]:
    return {(a["kind"], a["column"]): a for a in report["anomalies"]}


def test_inferred_schema_has_types_nullability_ranges_domains_rows(schema: dict) -> None:
    columns = schema["columns"]
    assert columns["species"] == {
        "type": "category",
        "nullable": False,
        "max_missing": 0.0,
        "domain": ["Adelie", "Chinstrap", "Gentoo"],
    }
    assert columns["bill_length_mm"]["type"] == "float"
    assert columns["bill_length_mm"]["nullable"] and columns["bill_length_mm"]["min"] == 32.1
    assert columns["year"] == {
        "type": "int", "nullable": False, "max_missing": 0.0, "min": 2007, "max": 2009,
    }  # fmt: skip
    assert schema["rows"] == {"min": 172, "max": 516}


def test_clean_data_validates(penguins: pd.DataFrame, schema: dict) -> None:
    report = validate_frame(penguins, schema)
    assert report["valid"] and report["anomalies"] == []


def test_every_kind_of_anomaly_is_counted_with_examples(
    penguins: pd.DataFrame, schema: dict
) -> None:
    bad = penguins.drop(columns=["year"]).assign(colour="blue")
    bad.loc[[3, 5], "bill_length_mm"] = 500.0  # out of range
    bad.loc[7, "island"] = "Atlantis"  # unseen category
    bad["body_mass_g"] = bad["body_mass_g"].astype(object)
    bad.loc[9, "body_mass_g"] = "heavy"  # wrong type
    bad.loc[:60, "flipper_length_mm"] = np.nan  # excess missing
    kinds = _kinds(validate_frame(bad, schema, max_examples=2))
    assert set(kinds) == {
        ("missing_column", "year"),
        ("extra_column", "colour"),
        ("out_of_range", "bill_length_mm"),
        ("unseen_category", "island"),
        ("wrong_type", "body_mass_g"),
        ("missing_values", "flipper_length_mm"),
    }
    out = kinds[("out_of_range", "bill_length_mm")]
    assert out["count"] == 2 and [e["row"] for e in out["examples"]] == [3, 5]
    assert out["examples"][0]["bill_length_mm"] == 500.0
    assert kinds[("unseen_category", "island")]["examples"][0]["island"] == "Atlantis"
    assert kinds[("wrong_type", "body_mass_g")]["examples"][0]["body_mass_g"] == "heavy"
    missing = kinds[("missing_values", "flipper_length_mm")]
    assert missing["count"] == int(bad["flipper_length_mm"].isna().sum()) > 60
    assert len(missing["examples"]) == 2
    json.dumps(kinds[("out_of_range", "bill_length_mm")])  # the report is JSON-able


def test_row_count_and_integer_checks(penguins: pd.DataFrame, schema: dict) -> None:
    kinds = _kinds(validate_frame(penguins.head(10), schema))
    assert kinds[("row_count", None)]["count"] == 10
    floats = penguins.assign(year=penguins["year"] + 0.5)
    assert ("wrong_type", "year") in _kinds(validate_frame(floats, schema))
    whole = penguins.assign(year=penguins["year"].astype(float))
    assert validate_frame(whole, schema)["valid"]  # 2008.0 is still an int


@cv.pipeline
def checking(source: str, schema: str, policy: str = "fail"):
    data = cv.step(pd.read_csv, name="read")(source)
    valid, report = validate(data, schema, policy=policy)
    return {"report": report, "stats": statistics(valid)}


def test_fail_policy_stops_the_run_naming_the_columns(project: Path, penguins, schema) -> None:
    write_schema(schema, project / "schema.json")
    penguins.loc[0, "island"] = "Atlantis"
    penguins.to_csv(project / "new.csv", index=False)
    run = checking.run(source=str(project / "new.csv"), schema=str(project / "schema.json"))
    assert run.status == "failed"
    failed = run.step("validate")
    assert "['island']" in failed.error_message and "Atlantis" in failed.error_message
    assert run.step("statistics").status == "skipped"
    with pytest.raises(DataValidationError) as err:
        validate(penguins, schema)
    assert err.value.report["anomalous_columns"] == ["island"]


def test_warn_policy_records_the_report_and_goes_on(project: Path, penguins, schema) -> None:
    write_schema(schema, project / "schema.json")
    penguins.loc[0, "island"] = "Atlantis"
    penguins.to_csv(project / "new.csv", index=False)
    run = checking.run(
        source=str(project / "new.csv"), schema=str(project / "schema.json"), policy="warn"
    )
    assert run.status == "succeeded"
    assert run.output("report")["anomalous_columns"] == ["island"]
    validated = run.step("validate")
    assert validated.stdout.count("Atlantis") == 1 and "Atlantis" not in (validated.stderr or "")
    assert validated.stdout.startswith("warning: validate: 1 anomaly in column(s) ['island']: ")


def test_a_row_count_anomaly_says_so(penguins: pd.DataFrame, schema: dict) -> None:
    with pytest.raises(DataValidationError) as caught:
        validate(penguins.head(0), schema)
    assert str(caught.value).startswith(
        "validate: 1 anomaly in the row count: 0 rows, expected [172, 516]"
    )
    with pytest.raises(DataValidationError) as caught:
        validate(penguins.head(3).assign(island="Atlantis"), schema)
    assert str(caught.value).startswith(
        "validate: 2 anomalies in column(s) ['island'] and the row count: "
    )


def test_editing_the_pinned_schema_revalidates(project: Path, penguins, schema) -> None:
    penguins.to_csv(project / "data.csv", index=False)
    pinned = write_schema(schema, project / "schema.json")
    args = {"source": str(project / "data.csv"), "schema": str(pinned)}
    assert checking.run(**args).status == "succeeded"
    assert checking.run(**args).step("validate").cached
    edited = read_schema(pinned)
    edited["columns"]["island"]["domain"].remove("Dream")
    write_schema(edited, pinned)
    rerun = checking.run(**args)
    assert rerun.status == "failed" and "island" in rerun.step("validate").error_message


def test_malformed_schemas_are_refused_naming_the_file(project: Path, penguins) -> None:
    (project / "broken.json").write_text("{not json")
    with pytest.raises(ParameterError, match=r"broken\.json"):
        read_schema(project / "broken.json")
    with pytest.raises(ParameterError, match="column 'a' 'type' = 'decimal': must be one of"):
        validate_frame(penguins, {"columns": {"a": {"type": "decimal"}}})
    # the one policy check, as when traced (there: "step 'validate': policy='maybe' must be …")
    with pytest.raises(
        ParameterError, match=re.escape("validate: policy='maybe' must be 'fail' or 'warn'")
    ):
        validate(penguins, {"columns": {}}, policy="maybe")


def _edited(schema: dict, where: tuple, value) -> dict:
    """A copy of `schema` with the field at path `where` set to `value`."""
    edited = json.loads(json.dumps(schema))
    *parents, last = where
    node = edited
    for key in parents:
        node = node[key]
    node[last] = value
    return edited


COLUMN_FIELDS = [
    ("bill_length_mm", "min", "32,1", "'min' = '32,1': must be a number"),
    ("bill_length_mm", "max", 10.0, ": 'min' 32.1 is greater than 'max' 10.0"),
    ("year", "max", True, "'max' = True: must be a number"),
    ("species", "nullable", "no", "'nullable' = 'no': must be true or false"),
    ("sex", "max_missing", "5%", "'max_missing' = '5%': must be a number in [0, 1]"),
    ("sex", "max_missing", 1.5, "'max_missing' = 1.5: must be a number in [0, 1]"),
    ("species", "max_missing", 0.1, ": 'max_missing' is 0.1 but 'nullable' is false"),
    ("island", "domain", "Biscoe", "'domain' = 'Biscoe': a category needs a list"),
    ("island", "min", 1, "'min': a category column has no range"),
    ("year", "domain", [2007], "'domain': only a category column has a domain"),
    ("year", "nulable", True, " has unknown field(s) ['nulable']"),
    ("year", "type", "integer", "'type' = 'integer': must be one of"),
]


@pytest.mark.parametrize(("column", "field", "value", "message"), COLUMN_FIELDS)
def test_every_field_of_a_column_is_checked_naming_file_column_and_field(
    project: Path, schema: dict, column: str, field: str, value, message: str
) -> None:
    path = project / "schema.json"
    path.write_text(json.dumps(_edited(schema, ("columns", column, field), value)))
    with pytest.raises(ParameterError) as caught:
        read_schema(path)
    expected = f"schema file {str(path)!r}: column {column!r}"
    assert str(caught.value).startswith(expected + (" " if message[0] == "'" else "") + message)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("rows", "min"), "100", "'rows' 'min' = '100': must be a whole number"),
        (("rows", "max"), 1.5, "'rows' 'max' = 1.5: must be a whole number"),
        (("rows", "min"), 600, "'rows' 'min' 600 is greater than 'max' 516"),
        (("rows",), [1, 2], "'rows' = [1, 2]: must be"),
        (("colums",), {}, "unknown field(s) ['colums']"),
        (("columns", "when"), {"type": "datetime", "min": "soon"}, "column 'when' 'min' = 'soon'"),
        (("columns", "bill_length_mm", "max"), None, None),  # a range open at one end is fine
    ],
)
def test_the_row_range_and_the_document_are_checked(
    project: Path, schema: dict, where: tuple, value, message: str | None
) -> None:
    path = project / "schema.json"
    path.write_text(json.dumps(_edited(schema, where, value)))
    if message is None:
        read_schema(path)
        return
    with pytest.raises(ParameterError) as caught:
        read_schema(path)
    assert str(caught.value).startswith(f"schema file {str(path)!r}: ")
    assert message in str(caught.value)


def test_a_bad_schema_file_refuses_the_run_when_traced(project: Path, schema: dict) -> None:
    path = project / "schema.json"
    path.write_text(json.dumps(_edited(schema, ("columns", "species", "nullable"), "no")))
    with pytest.raises(GraphError) as caught:
        checking.trace(source="data.csv", schema=str(path))
    assert str(caught.value).startswith("step 'validate': schema file")
    assert "column 'species' 'nullable' = 'no'" in str(caught.value)
    with pytest.raises(GraphError, match=re.escape("step 'validate': policy='maybe' must be")):
        checking.trace(source="data.csv", schema=str(project / "schema.json"), policy="maybe")


def test_statistics_are_the_drift_reference(penguins: pd.DataFrame) -> None:
    stats = statistics(penguins)
    mass = stats["columns"]["body_mass_g"]
    assert mass["missing"] == 2 and mass["count"] == 342
    assert mass["mean"] == pytest.approx(penguins["body_mass_g"].mean())
    assert sum(mass["histogram"]["counts"]) == 342
    assert len(mass["histogram"]["edges"]) == 21
    assert stats["columns"]["species"]["top"] == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}
    json.dumps(stats)
