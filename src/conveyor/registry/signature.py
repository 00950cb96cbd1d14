"""A model's input contract, from its registered signature: turn request data into a frame.

Serving and batch prediction both go through `InputSchema`: rows as `[{"col": value}, ...]` or
columns as `{"columns": [...], "data": [[...], ...]}` are checked field by field — missing and
extra columns, wrong types, categories outside the domain, nulls where the column allows none —
and become a DataFrame in the column order the model was fitted with. Every problem is reported
with its field (`instances[3].island`) in one `InputError`, never as a failure inside the model.
The checks are plain Python on JSON values: for the one-row requests of online serving that is
faster than building a frame first.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.exceptions import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Field", "InputSchema"]

_ABSENT = object()  # a column missing from a row (reported once as "missing column")
#: how many field errors one response lists at most
MAX_ERRORS = 20
_INT64 = (-(2**63), 2**63)

_KINDS = {
    "float": "float", "float64": "float", "float32": "float", "float16": "float", "double": "float",
    "int": "int", "int64": "int", "int32": "int", "int16": "int", "int8": "int", "uint8": "int",
    "Int64": "int", "bool": "bool", "boolean": "bool", "category": "category",
    "string": "string", "object": "string", "str": "string", "datetime": "datetime",
}  # fmt: skip


def _kind(declared: Any) -> str:
    text = str(declared)
    if text.startswith("datetime64"):
        return "datetime"
    return _KINDS.get(text, "any")


@dataclasses.dataclass(frozen=True)
class Field:
    """One input column: its kind, whether it may be null, and a categorical domain."""

    name: str
    kind: str = "any"  # float | int | bool | string | category | datetime | any
    nullable: bool = True
    domain: frozenset[Any] | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit this field, or None when it does."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None if self.nullable else "must not be null"
        kind = self.kind
        if isinstance(value, (list, dict)):
            return f"must be a single value, not a {type(value).__name__}"
        if kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and isinstance(value, float) and math.isinf(value):
                return f"must be a finite number, got {value}"
            return None if ok else f"must be a number, got {_show(value)}"
        if kind == "int":
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
            if ok and not _INT64[0] <= value < _INT64[1]:  # the frame holds int64
                return f"{_show(value)} is out of the 64-bit integer range"
            return None if ok else f"must be an integer, got {_show(value)}"
        if kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {_show(value)}"
        if kind in ("string", "category", "datetime") and not isinstance(value, str):
            return f"must be a string, got {_show(value)}"
        if self.domain is not None and value not in self.domain:
            allowed = sorted(map(str, self.domain))
            return f"{_show(value)} is not one of {allowed[:20]}"
        return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class InputSchema:
    """Validates prediction input against a model's signature and builds its frame."""

    def __init__(self, fields: Sequence[Field], max_rows: int = 100_000) -> None:
        self.fields = list(fields)
        self.names = [f.name for f in self.fields]
        self._by_name = {f.name: f for f in self.fields}
        #: every field is a float: the validated columns make one float array (`block`)
        self.all_float = bool(self.fields) and all(f.kind == "float" for f in self.fields)
        self.max_rows = max_rows
        self._columns: Any = None  # the frame's column index, built once

    @property
    def open(self) -> bool:
        """No signature: columns come from the request (the first row sets them)."""
        return not self.fields

    def _opened(self, names: list[str]) -> InputSchema:
        return InputSchema([Field(str(n)) for n in names], self.max_rows)

    @classmethod
    def from_signature(
        cls, signature: Mapping[str, Any], model: Any = None, max_rows: int = 100_000
    ) -> InputSchema:
        """Fields from a registered signature, in the order the model was fitted with."""
        inputs = signature.get("inputs")
        if inputs is None:  # a flat {"column": "dtype"} mapping given to ModelRegistry.register
            inputs = {k: v for k, v in signature.items() if isinstance(v, str)}
        specs = (signature.get("schema") or {}).get("columns", {})
        fitted = getattr(model, "feature_names_in_", None)
        order = [str(c) for c in fitted] if fitted is not None else list(inputs)
        fields = []
        for name in order:
            spec = specs.get(name, {})
            domain = spec.get("domain") if spec.get("type") == "category" else None
            fields.append(
                Field(
                    name=str(name),
                    kind=_kind(spec.get("type") or inputs.get(name, "any")),
                    nullable=bool(spec.get("nullable", True)),
                    domain=frozenset(domain) if domain is not None else None,
                )
            )
        return cls(fields, max_rows)

    def describe(self) -> list[dict[str, Any]]:
        """The fields as JSON, for `/metadata` and the OpenAPI description."""
        return [
            {
                "name": f.name,
                "type": f.kind,
                "nullable": f.nullable,
                **({"domain": sorted(map(str, f.domain))} if f.domain is not None else {}),
            }
            for f in self.fields
        ]

    # -- request bodies ----------------------------------------------------------------------------

    def columns_from_body(self, body: Any) -> tuple[dict[str, list[Any]], int]:
        """Validate a request body; return its values column by column and the row count."""
        if not isinstance(body, dict):
            raise InputError("the body must be a JSON object", [_err("body", "must be an object")])
        if "instances" in body:
            extra = sorted(set(body) - {"instances"})
            if extra:
                raise InputError("unexpected keys", [_err(k, "unexpected key") for k in extra])
            return self._from_instances(body["instances"])
        if "columns" in body or "data" in body:
            extra = sorted(set(body) - {"columns", "data"})
            if extra:
                raise InputError("unexpected keys", [_err(k, "unexpected key") for k in extra])
            return self._from_columns(body.get("columns"), body.get("data"))
        raise InputError(
            "the body needs 'instances' or 'columns' and 'data'",
            [_err("body", "needs 'instances' (a list of objects) or 'columns' and 'data'")],
        )

    def _rows_ok(self, rows: Any, where: str) -> int:
        if not isinstance(rows, list) or not rows:
            raise InputError(
                f"{where} must be a non-empty list", [_err(where, "must be a non-empty list")]
            )
        if len(rows) > self.max_rows:
            raise InputError(
                f"{len(rows)} rows is more than the limit of {self.max_rows}",
                [_err(where, f"at most {self.max_rows} rows per request")],
            )
        return len(rows)

    def _from_instances(self, rows: Any) -> tuple[dict[str, list[Any]], int]:
        n = self._rows_ok(rows, "instances")
        if self.open and isinstance(rows[0], dict) and rows[0]:
            return self._opened(list(rows[0]))._from_instances(rows)
        errors: list[dict[str, str]] = []
        names = self.names
        wanted = set(names)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                errors.append(_err(f"instances[{i}]", "must be an object of column: value"))
            elif row.keys() != wanted:
                errors += [
                    _err(f"instances[{i}].{k}", "missing column") for k in names if k not in row
                ]
                errors += [
                    _err(f"instances[{i}].{k}", "unexpected column") for k in row if k not in wanted
                ]
            if len(errors) >= MAX_ERRORS:
                raise InputError(_summary(errors), errors[:MAX_ERRORS])
        dicts = [row if isinstance(row, dict) else {} for row in rows]
        columns = {name: [row.get(name, _ABSENT) for row in dicts] for name in names}
        self._check_values(columns, lambda i, name: f"instances[{i}].{name}", errors)
        return columns, n

    def _from_columns(self, names: Any, data: Any) -> tuple[dict[str, list[Any]], int]:
        if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
            raise InputError(
                "columns must be a list of names", [_err("columns", "must be a list of strings")]
            )
        if len(set(names)) != len(names):
            raise InputError("columns repeat", [_err("columns", "names must be unique")])
        if self.open and names:
            return self._opened(names)._from_columns(names, data)
        errors = [_err(f"columns.{k}", "missing column") for k in self.names if k not in names]
        errors += [
            _err(f"columns.{k}", "unexpected column") for k in names if k not in self._by_name
        ]
        if errors:
            raise InputError(_summary(errors), errors[:MAX_ERRORS])
        n = self._rows_ok(data, "data")
        width = len(names)
        bad = [
            _err(f"data[{i}]", f"must be a list of {width} values")
            for i, row in enumerate(data)
            if not isinstance(row, list) or len(row) != width
        ]
        if bad:
            raise InputError(_summary(bad), bad[:MAX_ERRORS])
        transposed = dict(zip(names, map(list, zip(*data, strict=True)), strict=True))
        columns = {name: transposed[name] for name in self.names}
        self._check_values(columns, lambda i, name: f"data[{i}].{name}")
        return columns, n

    def _check_values(
        self, columns: dict[str, list[Any]], where: Any, errors: list | None = None
    ) -> None:
        errors = errors if errors is not None else []
        for name, values in columns.items():
            field = self._by_name[name]
            if (
                field.kind == "float"
                and all(type(v) is float for v in values)
                and math.isfinite(sum(values))
            ):
                continue  # finite floats (all of JSON's): nothing to check one by one
            problem = field.problem
            for i, value in enumerate(values):
                if value is _ABSENT:
                    continue
                message = problem(value)
                if message is not None:
                    errors.append(_err(where(i, name), message))
                    if len(errors) >= MAX_ERRORS:
                        raise InputError(_summary(errors), errors)
        if errors:
            raise InputError(_summary(errors), errors)

    # -- frames ------------------------------------------------------------------------------------

    def frame(self, columns: dict[str, list[Any]]) -> pd.DataFrame:
        """The validated columns as a frame with the dtypes the model was trained on."""
        import numpy as np
        import pandas as pd

        block = self.block(columns)
        if block is not None:  # a frame of one float block builds ~15x faster than by column
            return pd.DataFrame(block, columns=self._index(), copy=False)
        arrays: dict[str, Any] = {}
        for field in self.fields or [Field(name) for name in columns]:
            values = columns[field.name]
            if field.kind == "float":
                arrays[field.name] = np.array(values, dtype="float64")
            elif field.kind == "int":
                has_null = any(v is None for v in values)
                arrays[field.name] = np.array(values, dtype="float64" if has_null else "int64")
            else:
                arrays[field.name] = np.array(
                    [np.nan if v is None else v for v in values], dtype=object
                )
        return pd.DataFrame(arrays, copy=False)

    def block(self, columns: dict[str, list[Any]]) -> Any:
        """The validated columns as one float64 array (rows x fields) when every field is a
        float; None otherwise."""
        import numpy as np

        if not self.all_float:
            return None
        return np.array([columns[f.name] for f in self.fields], dtype="float64").T

    def _index(self) -> Any:
        if self._columns is None:
            import pandas as pd

            self._columns = pd.Index(self.names, dtype=object)
        return self._columns

    def check_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Validate a whole frame (batch prediction); returns it with the model's column order."""
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise InputError(
                f"missing column(s) {missing}",
                [_err(f"columns.{k}", "missing column") for k in missing],
            )
        columns = {
            name: frame[name].astype(object).where(frame[name].notna(), None).tolist()
            for name in self.names
        }
        self._check_values(columns, lambda i, name: f"row {frame.index[i]!r}.{name}")
        return frame[self.names]


def _err(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _summary(errors: list[dict[str, str]]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"
