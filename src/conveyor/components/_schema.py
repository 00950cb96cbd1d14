"""`infer_schema` and `validate`: what the data should look like, and where it does not.

A schema is a plain JSON document, so it can be read in a review, edited, and pinned in the
repository (`write_schema` / `read_schema`, or give `validate` the file's path):

    {"conveyor_schema": 1,
     "rows": {"min": 172, "max": 516},
     "columns": {
       "bill_length_mm": {"type": "float", "nullable": true, "max_missing": 0.06,
                          "min": 32.1, "max": 59.6},
       "species": {"type": "category", "nullable": false, "max_missing": 0.0,
                   "domain": ["Adelie", "Chinstrap", "Gentoo"]}}}

`validate` checks every column with vectorised pandas operations and returns an anomalies report:
missing and extra columns, wrong types, out-of-range values, unseen categories, excess missing
values and a row count outside the range, each with a count, a fraction and example rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from conveyor.components._frames import require_frame
from conveyor.core.context import log_metric
from conveyor.core.step import step
from conveyor.exceptions import DataValidationError, ParameterError
from conveyor.profiling import jsonable, kind_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "check_schema",
    "infer_schema",
    "infer_type",
    "read_schema",
    "validate",
    "validate_frame",
    "write_schema",
]

SCHEMA_VERSION = 1
_TYPES = ("int", "float", "bool", "datetime", "category", "string")
_NUMERIC = ("int", "float")
#: the fields a column may have, and those of the row-count range
_COLUMN_FIELDS = ("type", "nullable", "max_missing", "min", "max", "domain")
_ROW_FIELDS = ("min", "max")


# -- inference -------------------------------------------------------------------------------------


def _infer_column(series: pd.Series, categorical_max: int, missing_margin: float) -> dict:
    import pandas as pd

    kind = kind_of(series)
    missing = float(series.isna().mean()) if len(series) else 0.0
    spec: dict[str, Any] = {
        "type": kind,
        "nullable": missing > 0,
        "max_missing": round(min(1.0, missing + missing_margin), 6) if missing > 0 else 0.0,
    }
    present = missing < 1.0 and len(series) > 0  # min, max and unique skip missing values
    if kind in _NUMERIC and present:
        spec["min"], spec["max"] = jsonable(series.min()), jsonable(series.max())
    elif kind == "datetime" and present:
        spec["min"], spec["max"] = (
            pd.Timestamp(series.min()).isoformat(),
            pd.Timestamp(series.max()).isoformat(),
        )
    elif kind in ("string", "category"):
        values = [v for v in series.unique() if not pd.isna(v)]
        if len(values) <= categorical_max:
            spec["type"] = "category"
            spec["domain"] = sorted(jsonable(list(values)), key=str)
        else:
            spec["type"] = "string"
    return spec


def infer_type(series: pd.Series, categorical_max: int = 50) -> str:
    """The schema type `infer_schema` gives a column (text with few values is a category)."""
    kind = kind_of(series)
    if kind == "string":
        return "category" if series.dropna().nunique() <= categorical_max else "string"
    return kind


def _infer(
    frame: pd.DataFrame,
    categorical_max: int = 50,
    missing_margin: float = 0.05,
    rows_tolerance: float | None = 0.5,
) -> dict[str, Any]:
    require_frame(frame, "infer_schema", "data")
    if categorical_max < 0 or not 0 <= missing_margin <= 1:
        raise ParameterError("infer_schema: categorical_max must be >= 0, missing_margin in [0, 1]")
    n = len(frame)
    rows: dict[str, int | None] = {"min": 1 if n else 0, "max": None}
    if rows_tolerance is not None:
        if rows_tolerance < 0:
            raise ParameterError(f"infer_schema: rows_tolerance must be >= 0, got {rows_tolerance}")
        rows = {
            "min": math.floor(n * max(0.0, 1 - rows_tolerance)),
            "max": math.ceil(n * (1 + rows_tolerance)),
        }
    return {
        "conveyor_schema": SCHEMA_VERSION,
        "rows": rows,
        "columns": {
            str(name): _infer_column(frame[name], categorical_max, missing_margin)
            for name in frame.columns
        },
    }


@step
def infer_schema(
    data: pd.DataFrame,
    categorical_max: int = 50,
    missing_margin: float = 0.05,
    rows_tolerance: float | None = 0.5,
) -> dict[str, Any]:
    """Infer a schema from (training) data: types, nullability, ranges, domains, row count.

    Text columns with at most `categorical_max` distinct values become categories with a domain.
    A column with missing values may have up to its observed fraction plus `missing_margin`. The
    expected row count is the observed one ± `rows_tolerance` (None: at least one row).
    """
    return _infer(data, categorical_max, missing_margin, rows_tolerance)


# -- the schema document ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _bound(value: Any, kind: str, where: str) -> Any:
    """A column's min or max as a comparable value; errors name the column and the field."""
    import pandas as pd

    if kind in _NUMERIC:
        if not _is_number(value):
            raise ParameterError(f"{where} = {value!r}: must be a number (the {kind} column's)")
        return value
    if kind == "datetime":
        try:
            if not isinstance(value, str):
                raise ValueError("not a string")
            return pd.Timestamp(value)
        except (ValueError, TypeError):
            raise ParameterError(
                f"{where} = {value!r}: must be a date as ISO text, e.g. '2024-01-31T00:00:00'"
            ) from None
    raise ParameterError(f"{where}: a {kind} column has no range; remove the field")


def _check_range_fields(spec: dict[str, Any], kind: str, where: str) -> None:
    low, high = (
        None if spec.get(field) is None else _bound(spec[field], kind, f"{where} '{field}'")
        for field in ("min", "max")
    )
    if low is not None and high is not None:
        try:
            inverted = low > high
        except TypeError:  # a time zone on one end only
            raise ParameterError(
                f"{where}: 'min' {spec['min']!r} and 'max' {spec['max']!r} cannot be compared"
            ) from None
        if inverted:
            raise ParameterError(
                f"{where}: 'min' {spec['min']!r} is greater than 'max' {spec['max']!r}"
            )


def _check_column(name: str, spec: Any, where: str) -> None:
    place = f"{where}: column {name!r}"
    if not isinstance(spec, dict):
        raise ParameterError(f"{place} must be an object of fields, got {spec!r}")
    unknown = sorted(set(spec) - set(_COLUMN_FIELDS))
    if unknown:
        raise ParameterError(
            f"{place} has unknown field(s) {unknown}; a column has {list(_COLUMN_FIELDS)}"
        )
    kind = spec.get("type")
    if kind not in _TYPES:
        raise ParameterError(f"{place} 'type' = {kind!r}: must be one of {list(_TYPES)}")
    nullable = spec.get("nullable", False)
    if not isinstance(nullable, bool):
        raise ParameterError(f"{place} 'nullable' = {nullable!r}: must be true or false")
    missing = spec.get("max_missing", 0.0)
    if not _is_number(missing) or not 0 <= missing <= 1:
        raise ParameterError(f"{place} 'max_missing' = {missing!r}: must be a number in [0, 1]")
    if missing > 0 and not nullable:
        raise ParameterError(
            f"{place}: 'max_missing' is {missing!r} but 'nullable' is false; "
            "set nullable to true or max_missing to 0"
        )
    if "min" in spec or "max" in spec:
        _check_range_fields(spec, kind, place)
    domain = spec.get("domain")
    if kind == "category":
        if not isinstance(domain, list):
            raise ParameterError(f"{place} 'domain' = {domain!r}: a category needs a list")
        bad = [v for v in domain if v is not None and not isinstance(v, (str, int, float, bool))]
        if bad or any(isinstance(v, float) and not math.isfinite(v) for v in domain):
            raise ParameterError(f"{place} 'domain' holds {bad[:3]!r}: values must be plain")
    elif domain is not None:
        raise ParameterError(f"{place} 'domain': only a category column has a domain")


def _check_rows(rows: Any, where: str) -> None:
    if rows is None:
        return
    if not isinstance(rows, dict):
        raise ParameterError(f"{where}: 'rows' = {rows!r}: must be {{'min': N, 'max': N}}")
    unknown = sorted(set(rows) - set(_ROW_FIELDS))
    if unknown:
        raise ParameterError(f"{where}: 'rows' has unknown field(s) {unknown}; it has min, max")
    for field in _ROW_FIELDS:
        value = rows.get(field)
        if value is not None and not _is_count(value):
            raise ParameterError(
                f"{where}: 'rows' '{field}' = {value!r}: must be a whole number >= 0 or null"
            )
    low, high = rows.get("min"), rows.get("max")
    if low is not None and high is not None and low > high:
        raise ParameterError(f"{where}: 'rows' 'min' {low} is greater than 'max' {high}")


def check_schema(schema: Any, where: str = "schema") -> dict[str, Any]:
    """Return `schema` if it is a well-formed schema document; otherwise a ParameterError that
    names `where` (the file), the column and the field at fault."""
    if not isinstance(schema, dict) or not isinstance(schema.get("columns"), dict):
        raise ParameterError(f"{where}: not a Conveyor schema (needs a 'columns' mapping)")
    if schema.get("conveyor_schema", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ParameterError(
            f"{where}: schema format {schema.get('conveyor_schema')!r} is not supported "
            f"(this Conveyor reads {SCHEMA_VERSION})"
        )
    unknown = sorted(set(schema) - {"conveyor_schema", "rows", "columns"})
    if unknown:
        raise ParameterError(
            f"{where}: unknown field(s) {unknown}; a schema has conveyor_schema, rows, columns"
        )
    _check_rows(schema.get("rows"), where)
    for name, spec in schema["columns"].items():
        _check_column(name, spec, where)
    return schema


def write_schema(schema: dict[str, Any], path: str | Path) -> Path:
    """Write a schema as indented JSON, for review and to pin it in the repository."""
    check_schema(schema)
    target = Path(path)
    target.write_text(json.dumps(schema, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return target


def read_schema(path: str | Path) -> dict[str, Any]:
    """Read a schema file written by `write_schema` (or by hand); errors name the file."""
    source = Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"schema file {str(source)!r} does not exist") from None
    except json.JSONDecodeError as err:
        raise ParameterError(f"schema file {str(source)!r} is not valid JSON: {err}") from None
    return check_schema(document, f"schema file {str(source)!r}")


def _schema_arg(schema: Any) -> dict[str, Any]:
    if isinstance(schema, (str, Path)):
        return read_schema(schema)
    return check_schema(schema, "validate: schema")


def _schema_version(schema: Any = None, **_: Any) -> str | None:
    """A pinned schema file joins validate's cache key by content: editing it re-validates."""
    if isinstance(schema, (str, Path)) and Path(schema).is_file():
        return blake3.blake3(Path(schema).read_bytes()).hexdigest()
    return None


# -- validation ------------------------------------------------------------------------------------


class _Report:
    def __init__(self, frame: pd.DataFrame, max_examples: int) -> None:
        self.frame = frame
        self.n = len(frame)
        self.max_examples = max_examples
        self.anomalies: list[dict[str, Any]] = []

    def add(
        self, kind: str, column: str | None, message: str, mask: Any = None, count: int = 1
    ) -> None:
        import numpy as np

        examples: list[dict[str, Any]] = []
        if mask is not None:
            count = int(mask.sum())
            if count == 0:
                return
            positions = np.flatnonzero(np.asarray(mask))[: self.max_examples]
            rows = self.frame.iloc[positions]
            examples = [
                {"row": jsonable(index), **jsonable(record)}
                for index, record in zip(rows.index, rows.to_dict("records"), strict=True)
            ]
        self.anomalies.append(
            {
                "kind": kind,
                "column": column,
                "count": count,
                "fraction": round(count / self.n, 6) if self.n and mask is not None else None,
                "message": message,
                "examples": examples,
            }
        )


def _check_type(report: _Report, name: str, series: pd.Series, spec: dict) -> pd.Series | None:
    """Type check; returns the column as the schema's type (unconvertible values missing)."""
    import pandas as pd

    expected, actual = spec["type"], kind_of(series)
    if expected in _NUMERIC:
        if actual == "bool" or actual == "datetime":
            report.add("wrong_type", name, f"{name}: expected {expected}, found {actual}")
            return None
        if actual in _NUMERIC:
            if expected == "int" and actual == "float":
                bad = (series % 1 != 0) & series.notna()
                report.add("wrong_type", name, f"{name}: values that are not int", bad)
                return series.where(~bad) if bad.any() else series
            return series
        values = pd.to_numeric(series, errors="coerce")
        bad = values.isna() & series.notna()
        report.add("wrong_type", name, f"{name}: values that are not {expected}", bad)
        return values
    if expected == "datetime":
        values = series if actual == "datetime" else pd.to_datetime(series, errors="coerce")
        report.add(
            "wrong_type", name, f"{name}: values that are not dates", values.isna() & series.notna()
        )
        return values
    if expected == "bool":
        if actual != "bool":
            bad = series.notna() & ~series.isin([True, False])
            report.add("wrong_type", name, f"{name}: values that are not true/false", bad)
        return series
    if actual in _NUMERIC and expected == "string":
        report.add("wrong_type", name, f"{name}: expected text, found {actual}")
        return None
    return series


def _check_range(report: _Report, name: str, values: pd.Series, spec: dict) -> None:
    import pandas as pd

    low, high = spec.get("min"), spec.get("max")
    if low is None and high is None:
        return
    if spec["type"] == "datetime":
        low = pd.Timestamp(low) if low is not None else None
        high = pd.Timestamp(high) if high is not None else None
        if getattr(values.dtype, "tz", None) is not None:
            low = low.tz_localize(values.dtype.tz) if low is not None and low.tz is None else low
            high = (
                high.tz_localize(values.dtype.tz) if high is not None and high.tz is None else high
            )
    if low is not None and high is not None:
        outside = (values < low) | (values > high)
    else:
        outside = values < low if low is not None else values > high
    report.add("out_of_range", name, f"{name}: values outside [{low}, {high}]", outside)


def _check_domain(report: _Report, name: str, series: pd.Series, spec: dict) -> None:
    domain = spec["domain"]
    present = series.notna()
    unseen = present & ~series.isin(domain)
    if unseen.any():
        values = sorted(map(str, series[unseen].unique()[:5]))
        report.add(
            "unseen_category", name, f"{name}: values outside the domain, e.g. {values}", unseen
        )


def _check_missing(report: _Report, name: str, series: pd.Series, spec: dict) -> None:
    missing = series.isna()
    count = int(missing.sum())
    if not count:
        return
    allowed = float(spec.get("max_missing", 0.0)) if spec.get("nullable", False) else 0.0
    fraction = count / report.n
    if fraction > allowed:
        report.add(
            "missing_values",
            name,
            f"{name}: {fraction:.1%} missing, at most {allowed:.1%} allowed",
            missing,
        )


def validate_frame(
    frame: pd.DataFrame, schema: dict[str, Any] | str | Path, *, max_examples: int = 5
) -> dict[str, Any]:
    """The anomalies report of `frame` against `schema` (no policy applied)."""
    require_frame(frame, "validate", "data")
    schema = _schema_arg(schema)
    report = _Report(frame, max_examples)
    columns: dict[str, dict] = schema["columns"]
    for name in columns:
        if name not in frame.columns:
            report.add("missing_column", name, f"{name}: column is missing")
    extra = [str(c) for c in frame.columns if str(c) not in columns]
    for name in extra:
        report.add("extra_column", name, f"{name}: column is not in the schema")
    rows = schema.get("rows") or {}
    low, high = rows.get("min"), rows.get("max")
    if (low is not None and report.n < low) or (high is not None and report.n > high):
        report.add("row_count", None, f"{report.n} rows, expected [{low}, {high}]", count=report.n)
    for name, spec in columns.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        _check_missing(report, name, series, spec)
        values = _check_type(report, name, series, spec)
        if values is None:
            continue
        if spec["type"] in (*_NUMERIC, "datetime"):
            _check_range(report, name, values, spec)
        elif spec["type"] == "category":
            _check_domain(report, name, series, spec)
    anomalies = report.anomalies
    return {
        "valid": not anomalies,
        "rows": report.n,
        "columns": frame.shape[1],
        "anomalies": anomalies,
        "anomalous_columns": sorted({a["column"] for a in anomalies if a["column"]}),
    }


def headline(report: dict[str, Any]) -> str:
    """`3 anomalies in column(s) ['a', 'b'] and the row count` — what and where, in a line."""
    count = len(report["anomalies"])
    places = []
    if report["anomalous_columns"]:
        places.append(f"column(s) {report['anomalous_columns']}")
    if any(a["kind"] == "row_count" for a in report["anomalies"]):
        places.append("the row count")
    noun = "anomaly" if count == 1 else "anomalies"
    return f"{count} {noun} in {' and '.join(places)}"


def summary(report: dict[str, Any], limit: int = 5) -> str:
    """One line per anomaly (at most `limit`), for error messages and logs."""
    lines = [
        a["message"] + (f" ({a['count']} rows)" if a.get("fraction") is not None else "")
        for a in report["anomalies"][:limit]
    ]
    more = len(report["anomalies"]) - limit
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


_POLICIES = ("fail", "warn")


def _check_policy(policy: Any) -> None:
    if policy not in _POLICIES:
        raise ParameterError(f"policy={policy!r} must be 'fail' or 'warn'")


def _check_validate(schema: Any = None, policy: Any = "fail", **_: Any) -> None:
    """validate's arguments when the pipeline is traced: the policy, and a pinned schema file
    (read and checked field by field, so a bad edit refuses the run before any step)."""
    _check_policy(policy)
    if isinstance(schema, (str, Path)):
        read_schema(schema)
    elif schema is not None:
        check_schema(schema, "schema=")


@step(outputs=("data", "report"), cache_key_fn=_schema_version, check=_check_validate)
def validate(
    data: pd.DataFrame,
    schema: dict[str, Any] | str,
    policy: str = "fail",
    max_examples: int = 5,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Check `data` against `schema` (a schema or the path of a pinned schema file).

    Returns the data (so later steps run only on validated data) and the anomalies report.
    `policy="fail"` raises `DataValidationError` naming the columns; `"warn"` prints the summary
    once (in the step's output) and goes on.
    """
    try:  # as when traced: it may come from an upstream step
        _check_policy(policy)
    except ParameterError as err:
        raise ParameterError(f"validate: {err}") from None
    report = validate_frame(data, schema, max_examples=max_examples)
    log_metric("anomalies", len(report["anomalies"]))
    if not report["valid"]:
        message = f"validate: {headline(report)}: {summary(report)}"
        if policy == "fail":
            raise DataValidationError(message, report)
        print(f"warning: {message}")
    return data, report
