"""B4: schema inference + validation of 1,000,000 rows × 20 columns, against pandas and pandera.

    .venv/bin/python benchmarks/b4_schema.py                  # 1,000,000 rows, best of 3
    .venv/bin/python benchmarks/b4_schema.py --rows 200000 --repeat 5

The data (fixed seed): 8 float columns (two with ~2% missing), 6 int columns, 4 text columns
(pandas' `str` dtype; domains of 3 to 40 values, two with ~1% missing) and 2 pandas categoricals.
A corrupted copy adds what `validate` must find: out-of-range values in two numeric columns,
unseen categories in two text columns, missing values in a column that had none, and 15% missing
in a text column that allows ~6%. Both copies are written once to Parquet in a temporary folder
and read back by every tool, so all see the same frames. Each tool infers a schema from the clean
copy, then validates the clean and the corrupted copies against it; best of `--repeat`:

- raw pandas (the baseline, the floor): the operations those checks need and nothing else:
  dtypes, `isna().mean()`, `min`/`max` of numeric columns, `unique()` of the others; then per
  column `isna`, the range comparisons, `isin` on the domain, counts, and the first 5 rows of
  every anomaly (by position);
- Conveyor: `components._schema._infer(frame)` and `validate_frame(frame, schema)` (the functions
  behind the `infer_schema` and `validate` steps), an anomalies report with 5 example rows each;
- pandera, called directly in the peers environment (`benchmarks/.venv-peers`, built on first use
  by `peers.py`): `pandera.pandas.infer_schema(frame)` then `schema.validate(frame, lazy=True)`
  (its `SchemaErrors` caught for the corrupted copy); its inferred schema has dtypes, nullability
  and numeric ranges but no category domains, so it runs once more with an `isin` check on each
  text column of at most 50 values, found by `unique()` as Conveyor does: the same checks.

Imports and reading Parquet are excluded. Ratios are against raw pandas for the same step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    REPO,
    describe_machine,
    emit,
    fmt_ratio,
    fmt_s,
    load_note,
    run_worker,
    save_results,
    table,
)

SEED = 4
ROWS = 1_000_000
CATEGORICAL_MAX = 50  # Conveyor's default: text columns with at most this many values get a domain
EXAMPLES = 5


# -- the data --------------------------------------------------------------------------------------


def make_frames(rows: int, seed: int = SEED) -> tuple[Any, Any]:
    """(clean, corrupted): 20 columns of floats, ints, text and categoricals, some missing."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    for i in range(8):
        values = rng.normal(loc=10.0 * i, scale=1.0 + i, size=rows)
        if i < 2:
            values[rng.random(rows) < 0.02] = np.nan
        cols[f"f{i}"] = values
    highs = (100, 1_000, 10_000, 120, 5, 2**31)
    for i, high in enumerate(highs):
        cols[f"i{i}"] = rng.integers(0, high, size=rows, dtype=np.int64)
    for i, size in enumerate((3, 5, 12, 40)):
        domain = np.array([f"c{i}_value_{j}" for j in range(size)], dtype=object)
        values = domain[rng.integers(0, size, size=rows)]
        if i < 2:
            values[rng.random(rows) < 0.01] = None
        cols[f"s{i}"] = pd.array(values, dtype="str")
    for i, size in enumerate((4, 8)):
        categories = [f"k{i}_{j}" for j in range(size)]
        codes = rng.integers(0, size, size=rows)
        cols[f"k{i}"] = pd.Categorical.from_codes(codes, categories=categories)
    clean = pd.DataFrame(cols)

    bad = clean.copy()

    def pick(fraction: float) -> Any:
        return np.flatnonzero(rng.random(rows) < fraction)

    bad.loc[pick(0.001), "f2"] = 1e6  # out of range, above
    bad.loc[pick(0.001), "i0"] = -1  # out of range, below
    for name in ("s2", "s3"):  # unseen categories
        where = pick(0.005)
        bad.loc[where, name] = [f"unseen_{j % 7}" for j in range(len(where))]
    bad.loc[pick(0.05), "f3"] = np.nan  # missing where none were
    bad.loc[pick(0.15), "s1"] = None  # ~15% missing where ~1% were
    return clean, bad


def write_data(folder: Path, rows: int) -> tuple[Path, Path]:
    clean, bad = make_frames(rows)
    paths = folder / "clean.parquet", folder / "corrupted.parquet"
    clean.to_parquet(paths[0])
    bad.to_parquet(paths[1])
    return paths


def read_data(folder: Path) -> tuple[Any, Any]:
    import pandas as pd

    return pd.read_parquet(folder / "clean.parquet"), pd.read_parquet(folder / "corrupted.parquet")


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """(best seconds, last result) of `repeat` calls."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


# -- raw pandas: the floor -------------------------------------------------------------------------


def raw_infer(frame: Any) -> dict[str, dict[str, Any]]:
    import pandas as pd

    schema: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        series = frame[name]
        spec: dict[str, Any] = {"dtype": series.dtype, "missing": float(series.isna().mean())}
        dtype = series.dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            spec["min"], spec["max"] = series.min(), series.max()
        else:
            values = [v for v in series.unique() if not pd.isna(v)]
            if len(values) <= CATEGORICAL_MAX:
                spec["domain"] = values
        schema[name] = spec
    return schema


def raw_validate(frame: Any, schema: dict[str, dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(column, kind, count) of every anomaly; the first rows of each are taken, as examples."""
    import numpy as np

    n = len(frame)
    found: list[tuple[str, str, int]] = []

    def add(name: str, kind: str, mask: Any) -> None:
        positions = np.flatnonzero(mask.to_numpy())
        if len(positions):
            frame.iloc[positions[:EXAMPLES]].to_dict("records")
            found.append((name, kind, len(positions)))

    for name, spec in schema.items():
        series = frame[name]
        if series.dtype != spec["dtype"]:
            found.append((name, "wrong_type", 1))
            continue
        missing = series.isna()
        if missing.sum() / n > spec["missing"] + 0.05 or (spec["missing"] == 0 and missing.any()):
            add(name, "missing_values", missing)
        if "min" in spec:
            add(name, "out_of_range", (series < spec["min"]) | (series > spec["max"]))
        elif "domain" in spec:
            add(name, "unseen_category", ~series.isin(spec["domain"]) & ~missing)
    return found


def raw_times(clean: Any, bad: Any, repeat: int) -> dict[str, Any]:
    infer_s, schema = best_of(repeat, lambda: raw_infer(clean))
    clean_s, clean_found = best_of(repeat, lambda: raw_validate(clean, schema))
    bad_s, bad_found = best_of(repeat, lambda: raw_validate(bad, schema))
    if clean_found:
        raise SystemExit(f"B4: raw pandas finds anomalies in the clean data: {clean_found}")
    return {
        "infer_s": infer_s,
        "validate_clean_s": clean_s,
        "validate_corrupted_s": bad_s,
        "found": sorted(bad_found),
    }


# -- Conveyor --------------------------------------------------------------------------------------


def conveyor_times(clean: Any, bad: Any, repeat: int) -> dict[str, Any]:
    from conveyor.components._schema import _infer, validate_frame

    infer_s, schema = best_of(repeat, lambda: _infer(clean))
    clean_s, clean_report = best_of(repeat, lambda: validate_frame(clean, schema))
    bad_s, bad_report = best_of(repeat, lambda: validate_frame(bad, schema))
    if not clean_report["valid"]:
        raise SystemExit(f"B4: Conveyor finds anomalies in the clean data: {clean_report}")
    found = sorted((a["column"], a["kind"], a["count"]) for a in bad_report["anomalies"])
    # Where validation spends its time: the corrupted copy, one kind of column at a time.
    by_kind: dict[str, float] = {}
    for kind, prefix in (("float", "f"), ("int", "i"), ("text", "s"), ("categorical", "k")):
        names = [c for c in bad.columns if c.startswith(prefix)]
        part = {**schema, "columns": {c: schema["columns"][c] for c in names}}
        by_kind[kind], _ = best_of(repeat, lambda n=names, p=part: validate_frame(bad[n], p))
    return {
        "infer_s": infer_s,
        "validate_clean_s": clean_s,
        "validate_corrupted_s": bad_s,
        "found": found,
        "by_kind_s": by_kind,
        "types": {c: s["type"] for c, s in schema["columns"].items()},
    }


# -- pandera (worker in the peers environment) -----------------------------------------------------


def work_pandera(folder: Path, repeat: int) -> dict[str, Any]:
    import pandas as pd
    import pandera
    import pandera.pandas as pa

    clean, bad = read_data(folder)

    def validate(schema: Any, frame: Any) -> list[tuple[str, str, int]]:
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as err:
            cases = err.failure_cases
            counts = cases.groupby(["column", "check"], dropna=False).size()
            # a check's name without its arguments: isin([...]) -> isin
            return sorted((str(c), str(k).split("(")[0], int(v)) for (c, k), v in counts.items())
        return []

    def infer_with_domains() -> Any:
        schema = pa.infer_schema(clean)
        for name in clean.columns:
            series = clean[name]
            if pd.api.types.is_string_dtype(series.dtype):
                values = [v for v in series.unique() if not pd.isna(v)]
                if len(values) <= CATEGORICAL_MAX:
                    checks = [*schema.columns[name].checks, pa.Check.isin(values)]
                    schema = schema.update_column(name, checks=checks)
        return schema

    result: dict[str, Any] = {"version": pandera.__version__, "pandas": pd.__version__}
    inferers = (("pandera", lambda: pa.infer_schema(clean)), ("domains", infer_with_domains))
    for label, infer in inferers:
        infer_s, schema = best_of(repeat, infer)
        clean_s, clean_found = best_of(repeat, lambda s=schema: validate(s, clean))
        bad_s, bad_found = best_of(repeat, lambda s=schema: validate(s, bad))
        if clean_found:
            raise SystemExit(f"B4: pandera ({label}) fails the clean data: {clean_found}")
        result[label] = {
            "infer_s": infer_s,
            "validate_clean_s": clean_s,
            "validate_corrupted_s": bad_s,
            "found": bad_found,
        }
    return result


def pandera_times(folder: Path, repeat: int) -> dict[str, Any]:
    import peers

    py = peers.ensure()
    cmd = [py, Path(__file__).resolve(), "--worker", "pandera", "--data", folder]
    cmd += ["--repeat", str(repeat)]
    return run_worker(cmd, env=peers.quiet_env(), timeout=1800, cwd=REPO)


# -- the benchmark ---------------------------------------------------------------------------------


def report(results: dict[str, dict[str, Any]]) -> None:
    raw = results["raw pandas"]
    keys = ("infer_s", "validate_clean_s", "validate_corrupted_s")
    rows = []
    for label, res in results.items():
        row = [label]
        for key in keys:
            row += [fmt_s(res[key]), fmt_ratio(res[key] / raw[key])]
        total = res["infer_s"] + res["validate_clean_s"]
        row += [fmt_s(total), fmt_ratio(total / (raw["infer_s"] + raw["validate_clean_s"]))]
        rows.append(row)
    headers = ["tool", "infer s", "x raw", "validate clean s", "x raw"]
    headers += ["validate corrupted s", "x raw", "infer + validate clean s", "x raw"]
    print(table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description="B4: schema inference and validation")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many calls")
    parser.add_argument("--no-pandera", action="store_true", help="skip the peers environment")
    args = parser.parse_args()
    if args.worker == "pandera":
        emit(work_pandera(args.data, args.repeat))
        return

    import pandas as pd

    started = time.perf_counter()
    print(
        f"B4 schema: {args.rows:,} rows x 20 columns, best of {args.repeat}; "
        f"machine: {describe_machine()}{load_note()}"
    )
    with tempfile.TemporaryDirectory(prefix="conveyor-b4-") as tmp:
        folder = Path(tmp)
        write_data(folder, args.rows)
        clean, bad = read_data(folder)
        dtypes = ", ".join(sorted({str(t) for t in clean.dtypes}))
        print(f"pandas {pd.__version__}; column dtypes: {dtypes}")

        results: dict[str, dict[str, Any]] = {"raw pandas": raw_times(clean, bad, args.repeat)}
        results["Conveyor"] = conveyor_times(clean, bad, args.repeat)
        del clean, bad
        notes: list[str] = []
        pandera: dict[str, Any] = {}
        if not args.no_pandera:
            pandera = pandera_times(folder, args.repeat)
            results[f"pandera {pandera['version']}, as inferred"] = pandera["pandera"]
            results["pandera + isin domains"] = pandera["domains"]
            if pandera["pandas"] != pd.__version__:
                notes.append(f"pandera ran with pandas {pandera['pandas']}")

    print()
    report(results)
    conveyor = results["Conveyor"]
    total = sum(conveyor["by_kind_s"].values())
    print(
        "\nConveyor validate_frame of the corrupted copy, one kind of column at a time (s): "
        + ", ".join(
            f"{kind} {fmt_s(s)} ({s / total:.0%})" for kind, s in conveyor["by_kind_s"].items()
        )
    )
    print("\nWhat each found in the corrupted copy (column, check, rows):")
    for label, res in results.items():
        print(f"  {label}: " + "; ".join(f"{c} {k} {n:,}" for c, k, n in res["found"]))
    for note in notes:
        print(f"  note: {note}")
    save_results(
        "b4_schema",
        {
            "command": "python benchmarks/b4_schema.py " + " ".join(sys.argv[1:]),
            "rows": args.rows,
            "results": results,
            "notes": notes,
        },
    )
    print(f"\nB4 took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
