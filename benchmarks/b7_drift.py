"""B7: data drift of 1,000,000 live rows x 20 features against a 100,000-row reference.

    .venv/bin/python benchmarks/b7_drift.py                   # best of 3, ~3 minutes
    .venv/bin/python benchmarks/b7_drift.py --rows 200000 --repeat 5 --no-evidently

The data (fixed seed): 12 numeric features (normal on six scales, two lognormal, uniform integers,
Poisson counts, a normal with 5% missing, exponential) and 8 categorical ones (2 to 50 values with
Zipf-like frequencies; one a pandas Categorical, one with 3% missing). The live window moves 5 of
them: a mean shift of 0.75 sd, a doubled sd, a lognormal scaled by e^0.75, the most and least
frequent categories of one feature swapping shares, and a new category taking 20% of another's
rows. Both frames are written once to Parquet in a temporary folder and read back by every tool;
reading is not timed. Best of `--repeat`:

- Conveyor: `conveyor.monitoring.drift.dataset_drift(reference, current, features, categorical)`,
  what `conveyor monitor` runs: PSI on the reference's deciles and scipy's `ks_2samp` per numeric
  feature, scipy's `chi2_contingency` and `jensenshannon` per categorical one; verdict PSI >= 0.2,
  JS >= 0.1 (and the test's p < 0.01, which at these sizes every shifted feature passes by far).
  Measured in this environment (pandas 3) and again in Evidently's (pandas 2.3), so the ratio is
  also given with the same libraries on both sides;
- Evidently (`benchmarks/.venv-evidently`, built on first use from `requirements-evidently.txt`):
  its `DataDriftPreset` in a `Report`, run on the two `Dataset`s (built with `from_pandas` and a
  `DataDefinition` naming the numeric and categorical columns: timed with the report), with the
  per-column tests set to the ones behind Conveyor's verdicts: `psi` at threshold 0.2 for the
  numeric columns, `jensenshannon` at 0.1 for the categorical ones (its defaults at this size:
  the normed Wasserstein distance for numeric columns, Jensen-Shannon for categorical ones).

Same tests, not the same numbers: Evidently's PSI bins numeric columns into Sturges' equal-width
bins over reference and current together (Conveyor: the reference's deciles, open-ended) and its
Jensen-Shannon distance uses the natural log (Conveyor: base 2, so Evidently's is 0.83x
Conveyor's). Per-feature verdicts are compared, with both statistics printed beside them, and
Conveyor runs a second time with `DriftThresholds(psi_bins="sturges")`, Evidently's binning, to
tell a difference of binning from a difference of computation.

`--profile` adds where Conveyor's time goes, one part at a time on the same columns. Building
Evidently's environment the first time adds about 30 s (only the package index is reached).
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
    BENCH,
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

SEED = 7
ROWS = 1_000_000
REFERENCE_ROWS = 100_000
PSI, JS = 0.2, 0.1
DOMAINS = (2, 3, 4, 5, 8, 12, 20, 50)
SHIFTED = {
    "n0": "mean + 0.75 sd",
    "n3": "sd x 2",
    "n6": "lognormal x e^0.75",
    "c2": "top and bottom categories swap",
    "c6": "new category, 20% of rows",
}


# -- the data --------------------------------------------------------------------------------------


def make_frame(rows: int, rng: Any, shift: bool) -> Any:
    """20 features; with `shift`, the five of `SHIFTED` moved as described there."""
    import numpy as np
    import pandas as pd

    cols: dict[str, Any] = {}
    for i in range(6):
        loc, sd = 10.0 * i, 1.0 + i
        if shift and i == 0:
            loc += 0.75 * sd
        if shift and i == 3:
            sd *= 2
        cols[f"n{i}"] = rng.normal(loc, sd, rows)
    for i in (6, 7):
        cols[f"n{i}"] = rng.lognormal(0.75 if shift and i == 6 else 0.0, 1.0, rows)
    cols["n8"] = rng.integers(0, 100, rows)
    cols["n9"] = rng.poisson(3, rows)
    n10 = rng.normal(-5.0, 2.0, rows)
    n10[rng.random(rows) < 0.05] = np.nan
    cols["n10"] = n10
    cols["n11"] = rng.exponential(2.0, rows)
    for i, size in enumerate(DOMAINS):
        domain = np.array([f"c{i}_{j}" for j in range(size)], dtype=object)
        p = 1.0 / np.arange(1, size + 1)
        p /= p.sum()
        if shift and i == 2:
            p[[0, -1]] = p[[-1, 0]]
        values = domain[rng.choice(size, rows, p=p)]
        if shift and i == 6:
            values[rng.random(rows) < 0.2] = "c6_new"
        if i == 4:
            values[rng.random(rows) < 0.03] = None
        cols[f"c{i}"] = (
            pd.Categorical(values, categories=domain) if i == 5 else pd.array(values, dtype="str")
        )
    return pd.DataFrame(cols)


def write_data(folder: Path, reference_rows: int, rows: int) -> None:
    import numpy as np

    rng = np.random.default_rng(SEED)
    make_frame(reference_rows, rng, shift=False).to_parquet(folder / "reference.parquet")
    make_frame(rows, rng, shift=True).to_parquet(folder / "current.parquet")


def read_data(folder: Path) -> tuple[Any, Any, list[str], list[str]]:
    """(reference, current, features, categorical features)."""
    import pandas as pd

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    features = list(reference.columns)
    return reference, current, features, [f for f in features if f.startswith("c")]


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


# -- Conveyor --------------------------------------------------------------------------------------


def conveyor_times(folder: Path, repeat: int, bins: str = "deciles") -> dict[str, Any]:
    import pandas as pd

    from conveyor.monitoring.drift import DriftThresholds, dataset_drift

    reference, current, features, categorical = read_data(folder)
    thresholds = DriftThresholds(psi=PSI, js=JS, psi_bins=bins)
    dataset_drift(reference[:1000], current[:1000], features, categorical)  # imports scipy
    seconds, (results, verdict) = best_of(
        repeat, lambda: dataset_drift(reference, current, features, categorical, thresholds)
    )
    return {
        "seconds": seconds,
        "pandas": pd.__version__,
        "share": verdict["share"],
        "features": {
            r.feature: {
                "kind": r.kind,
                "drifted": r.drifted,
                "value": r.statistics.get("psi" if r.kind == "numeric" else "js"),
                "ks": r.statistics.get("ks_statistic"),
            }
            for r in results
        },
    }


def conveyor_profile(folder: Path, repeat: int) -> dict[str, float]:
    """Seconds of each part of `dataset_drift` on the same data, called one at a time."""
    import numpy as np
    from scipy import stats

    from conveyor.monitoring.drift import DriftThresholds, categorical_drift, counts, numeric_drift

    reference, current, features, categorical = read_data(folder)
    numeric = [f for f in features if f not in categorical]
    thresholds = DriftThresholds(psi=PSI, js=JS)
    arrays = {
        f: (reference[f].to_numpy(dtype="float64"), current[f].to_numpy(dtype="float64"))
        for f in numeric
    }
    clean = [(r[~np.isnan(r)], c[~np.isnan(c)]) for r, c in arrays.values()]

    def psi_binning() -> None:
        for ref, cur in clean:
            inner = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))[1:-1]
            np.bincount(np.searchsorted(inner, ref, side="right"))
            np.bincount(np.searchsorted(inner, cur, side="right"))

    tallies = {f: (counts(reference[f]), counts(current[f])) for f in categorical}
    parts = {
        "numeric_drift, 12 features": lambda: [
            numeric_drift(f, r, c, thresholds) for f, (r, c) in arrays.items()
        ],
        "  scipy ks_2samp in it": lambda: [stats.ks_2samp(r, c, method="asymp") for r, c in clean],
        "  PSI binning in it": psi_binning,
        "value_counts, 8 features": lambda: [
            (counts(reference[f]), counts(current[f])) for f in categorical
        ],
        "categorical_drift (chi2, JS), 8": lambda: [
            categorical_drift(f, r, c, thresholds) for f, (r, c) in tallies.items()
        ],
    }
    return {label: best_of(repeat, fn)[0] for label, fn in parts.items()}


def work_conveyor(folder: Path, repeat: int) -> dict[str, Any]:
    return conveyor_times(folder, repeat)


# -- Evidently (worker in its own environment) -----------------------------------------------------


def work_evidently(folder: Path, repeat: int) -> dict[str, Any]:
    import evidently
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current, features, categorical = read_data(folder)
    numeric = [f for f in features if f not in categorical]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    methods = dict.fromkeys(numeric, "psi") | dict.fromkeys(categorical, "jensenshannon")
    thresholds = dict.fromkeys(numeric, PSI) | dict.fromkeys(categorical, JS)

    def run() -> Any:
        report = Report(
            [DataDriftPreset(per_column_method=methods, per_column_threshold=thresholds)]
        )
        return report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )

    seconds, snapshot = best_of(repeat, run)
    values: dict[str, float] = {}
    count = None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            values[config["column"]] = float(metric["value"])
        elif config["type"].endswith("DriftedColumnsCount"):
            count = metric["value"]
    # PSI and Jensen-Shannon are distances: Evidently calls drift when value >= threshold
    # (`_psi`, `_jensenshannon` in evidently.legacy.calculations.stattests).
    found = {f: {"value": v, "drifted": v >= thresholds[f]} for f, v in values.items()}
    drifted = sum(f["drifted"] for f in found.values())
    if count is not None and int(count["count"]) != drifted:
        raise SystemExit(f"B7: Evidently counts {count} drifted columns, its values say {drifted}")
    return {
        "seconds": seconds,
        "version": evidently.__version__,
        "pandas": pd.__version__,
        "share": drifted / len(found),
        "features": found,
    }


def evidently_env() -> Any:
    import peers

    return peers.Env(
        "evidently",
        BENCH / ".venv-evidently",
        BENCH / "requirements-evidently.txt",
        ("evidently",),
        ("conveyor", "evidently", "pandas", "numpy", "scipy", "pyarrow"),
    )


def in_evidently_env(worker: str, folder: Path, repeat: int) -> dict[str, Any]:
    import peers

    py = peers.ensure(env=evidently_env())
    cmd = [py, Path(__file__).resolve(), "--worker", worker, "--data", folder]
    cmd += ["--repeat", str(repeat)]
    return run_worker(cmd, env=peers.quiet_env(), timeout=3600, cwd=REPO)


# -- the benchmark ---------------------------------------------------------------------------------


def report(results: dict[str, dict[str, Any]]) -> None:
    evidently = next((r for label, r in results.items() if label.startswith("Evidently")), None)
    rows = []
    for label, res in results.items():
        ratio = evidently["seconds"] / res["seconds"] if evidently else None
        rows.append([label, f"pandas {res['pandas']}", fmt_s(res["seconds"]), fmt_ratio(ratio)])
    print(table(["tool", "environment", "seconds", "Evidently / tool"], rows))


def verdicts(results: dict[str, dict[str, Any]], peer: str) -> dict[str, int]:
    """Print each feature's statistic and verdict per tool; features agreeing with `peer`."""
    labels = list(results)
    features = list(results[labels[0]]["features"])
    headers = ["feature", "kind", "shift"]
    for label in labels:
        headers += [f"{label}: PSI / JS", "drift"]
    rows = []
    agree = dict.fromkeys((label for label in labels if label != peer), 0)
    for name in features:
        first = results[labels[0]]["features"][name]
        row = [name, first["kind"], SHIFTED.get(name, "-")]
        for label in labels:
            entry = results[label]["features"][name]
            row += [f"{entry['value']:.4f}", "yes" if entry["drifted"] else "no"]
            if label in agree:
                agree[label] += entry["drifted"] == results[peer]["features"][name]["drifted"]
        rows.append(row)
    print(table(headers, rows))
    return agree


def explain(folder: Path, feature: str, results: dict[str, dict[str, Any]]) -> str:
    """Why the tools disagree on a numeric feature: Evidently's binning, reproduced with numpy."""
    import numpy as np

    reference, current, _, _ = read_data(folder)
    ref = reference[feature].dropna().to_numpy(dtype="float64")
    cur = current[feature].dropna().to_numpy(dtype="float64")
    # evidently.legacy.calculations.stattests.utils.get_binned_data, for > 20 distinct values
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p = np.histogram(ref, edges)[0] / len(ref)
    q = np.histogram(cur, edges)[0] / len(cur)
    for shares in (p, q):  # its floor for empty bins
        least = shares[shares > 0].min()
        shares[shares == 0] = least / 1e6 if least <= 1e-4 else 1e-4
    psi = float(np.sum((p - q) * np.log(p / q)))
    conveyor = results["Conveyor"]["features"][feature]
    return (
        f"{feature}: Evidently bins it into {len(edges) - 1} equal-width bins over "
        f"[{edges[0]:.3g}, {edges[-1]:.3g}] (reference and current together); the first holds "
        f"{p[0]:.0%} of the reference and {q[0]:.0%} of the current rows. PSI on those bins, "
        f"recomputed with numpy: {psi:.4f}. On the reference's deciles: {conveyor['value']:.4f}; "
        f"KS statistic {conveyor['ks']:.3f}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="B7: data drift, Conveyor against Evidently")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=ROWS, help="live rows")
    parser.add_argument("--reference-rows", type=int, default=REFERENCE_ROWS)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many calls")
    parser.add_argument("--no-evidently", action="store_true", help="skip Evidently's environment")
    parser.add_argument("--profile", action="store_true", help="time each part of Conveyor's")
    args = parser.parse_args()
    if args.worker == "evidently":
        emit(work_evidently(args.data, args.repeat))
        return
    if args.worker == "conveyor":
        emit(work_conveyor(args.data, args.repeat))
        return

    started = time.perf_counter()
    print(
        f"B7 drift: {args.rows:,} live rows vs {args.reference_rows:,} reference rows, "
        f"20 features (12 numeric, 8 categorical), 5 shifted; best of {args.repeat}; "
        f"machine: {describe_machine()}{load_note()}"
    )
    profile: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="conveyor-b7-") as tmp:
        folder = Path(tmp)
        write_data(folder, args.reference_rows, args.rows)
        results: dict[str, dict[str, Any]] = {"Conveyor": conveyor_times(folder, args.repeat)}
        results["Conveyor, sturges bins"] = conveyor_times(folder, args.repeat, bins="sturges")
        versions: dict[str, Any] = {}
        peer = ""
        if not args.no_evidently:
            import peers

            results["Conveyor (Evidently's env)"] = in_evidently_env(
                "conveyor", folder, args.repeat
            )
            evidently = in_evidently_env("evidently", folder, args.repeat)
            peer = f"Evidently {evidently['version']}"
            results[peer] = evidently
            versions = peers.versions(evidently_env())
        if args.profile:
            profile = conveyor_profile(folder, args.repeat)
        disagreeing = [
            name
            for name, entry in results["Conveyor"]["features"].items()
            if entry["kind"] == "numeric"
            and peer
            and entry["drifted"] != results[peer]["features"][name]["drifted"]
        ]
        explained = [explain(folder, name, results) for name in disagreeing]

    print()
    report(results)
    print()
    total = len(results["Conveyor"]["features"])
    agree = verdicts(results, peer) if peer else {}
    print()
    for label, count in agree.items():
        print(f"verdicts of {label} agreeing with {peer}: {count} of {total} features")
    for label, res in results.items():
        print(f"  {label}: dataset drift share {res['share']:.2f}")
    for line in explained:
        print(f"  disagreement, {line}")
    if versions:
        print("  Evidently's environment: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if profile:
        whole = results["Conveyor"]["seconds"]
        print("\nWhere Conveyor's time goes (each part alone, best of the same repeats):")
        for label, seconds in profile.items():
            print(f"  {label:<36} {fmt_s(seconds):>7} s  ({seconds / whole:.0%} of dataset_drift)")
    save_results(
        "b7_drift",
        {
            "command": "python benchmarks/b7_drift.py " + " ".join(sys.argv[1:]),
            "rows": args.rows,
            "reference_rows": args.reference_rows,
            "results": results,
            "agreeing": agree,
            "features": total,
            "versions": versions,
            "profile": profile,
            "disagreements": explained,
        },
    )
    print(f"\nB7 took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
