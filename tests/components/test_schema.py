"""`infer_schema`, `validate`, `statistics`: the schema document, anomalies, policies, pinning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import conveyor as cv
from conveyor.components import infer_schema, read_schema, statistics, validate, write_schema
from conveyor.components._schema import validate_frame
from conveyor.exceptions import DataValidationError, ParameterError


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
    assert "Atlantis" in run.step("validate").stdout


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
    with pytest.raises(ParameterError, match="column 'a' needs a 'type'"):
        validate_frame(penguins, {"columns": {"a": {"type": "decimal"}}})
    with pytest.raises(ParameterError, match="policy"):
        validate(penguins, {"columns": {}}, policy="maybe")


def test_statistics_are_the_drift_reference(penguins: pd.DataFrame) -> None:
    stats = statistics(penguins)
    mass = stats["columns"]["body_mass_g"]
    assert mass["missing"] == 2 and mass["count"] == 342
    assert mass["mean"] == pytest.approx(penguins["body_mass_g"].mean())
    assert sum(mass["histogram"]["counts"]) == 342
    assert len(mass["histogram"]["edges"]) == 21
    assert stats["columns"]["species"]["top"] == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}
    json.dumps(stats)
