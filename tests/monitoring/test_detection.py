"""Detection quality of `dataset_drift`: a known shift in k of 20 features, found and nothing else.

A 100,000-row reference and a 100,000-row current window (fixed seed) with 12 numeric features
(normal, lognormal, exponential, small integer counts, one with missing values) and 8 categorical
ones (2 to 50 values, Zipf-like frequencies, one pandas Categorical, one with missing values).
The current window moves k = 5 of them by amounts a monitoring user cares about; the other 15
are fresh draws from the reference's own distributions. Recall and false alarms are printed in
the session's summary (`figures`), with the statistic of each feature next to its threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.monitoring.drift import (
    DriftThresholds,
    categorical_drift,
    dataset_drift,
    numeric_drift,
)

ROWS = 100_000
SEED = 7
DOMAINS = (2, 3, 4, 5, 8, 12, 20, 50)
# What the current window changes, and how much: the sizes the assertions are about.
SHIFTED = {
    "n0": "mean + 0.5 sd",
    "n3": "sd x 2",
    "n6": "lognormal: x e^0.5 (log-mean + 0.5)",
    "c2": "most and least frequent categories swap shares",
    "c6": "a new category takes 20% of the rows",
}


def _zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


def features(rows: int, rng: np.random.Generator, shift: bool) -> pd.DataFrame:
    """20 features; with `shift`, the five of `SHIFTED` moved as described there."""
    cols: dict[str, Any] = {}
    for i in range(6):  # normal, on different scales
        loc, sd = 10.0 * i, 1.0 + i
        if shift and i == 0:
            loc += 0.5 * sd
        if shift and i == 3:
            sd *= 2
        cols[f"n{i}"] = rng.normal(loc, sd, rows)
    for i in (6, 7):
        cols[f"n{i}"] = rng.lognormal(0.5 if shift and i == 6 else 0.0, 1.0, rows)
    cols["n8"] = rng.integers(0, 100, rows)  # integers, many values
    cols["n9"] = rng.poisson(3, rows)  # small counts: ties, fewer than 10 distinct deciles
    n10 = rng.normal(-5.0, 2.0, rows)
    n10[rng.random(rows) < 0.05] = np.nan
    cols["n10"] = n10
    cols["n11"] = rng.exponential(2.0, rows)
    for i, size in enumerate(DOMAINS):
        domain = np.array([f"c{i}_{j}" for j in range(size)], dtype=object)
        p = _zipf(size)
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


def test_a_shift_in_5_of_20_features_is_found_without_false_alarms(
    figures: Callable[[str], None],
) -> None:
    rng = np.random.default_rng(SEED)
    reference = features(ROWS, rng, shift=False)
    current = features(ROWS, rng, shift=True)
    names = list(reference.columns)
    categorical = [n for n in names if n.startswith("c")]
    results, verdict = dataset_drift(reference, current, names, categorical)

    found = {r.feature for r in results if r.drifted}
    truth = set(SHIFTED)
    recall = len(found & truth) / len(truth)
    false_alarms = sorted(found - truth)
    figures(
        f"drift detection, {ROWS:,} reference vs {ROWS:,} current rows, 20 features "
        f"(12 numeric, 8 categorical), shift in k={len(truth)}: recall {recall:.0%} "
        f"({len(found & truth)}/{len(truth)}), false alarms {len(false_alarms)}/{20 - len(truth)}"
        f" {false_alarms or '(none)'}; dataset share {verdict['share']:.2f}"
    )
    thresholds = DriftThresholds()
    for r in results:
        stat, line = ("psi", thresholds.psi) if r.kind == "numeric" else ("js", thresholds.js)
        mark = "drifted" if r.drifted else "ok"
        figures(
            f"  {r.feature:>4} {r.kind:<11} {stat} {r.statistics[stat]:.4f} (line {line}) "
            f"{mark:<7} {SHIFTED.get(r.feature, 'unshifted')}"
        )
    assert [r.kind for r in results] == ["numeric"] * 12 + ["categorical"] * 8
    assert recall == 1.0 and false_alarms == []
    assert verdict["share"] == pytest.approx(5 / 20) and not verdict["drifted"]
    by_name = {r.feature: r for r in results}
    assert by_name["n10"].reference_rows == pytest.approx(0.95 * ROWS, rel=0.01)  # NaN dropped
    assert by_name["c6"].histogram["new"] == ["c6_new"]
    for r in results:  # unshifted features are far from their line, not just under it
        stat, line = ("psi", thresholds.psi) if r.kind == "numeric" else ("js", thresholds.js)
        if r.feature not in truth:
            assert r.statistics[stat] < line / 5, r


def test_the_smallest_mean_shift_psi_calls_drift(figures: Callable[[str], None]) -> None:
    """Where the PSI ≥ 0.2 line falls for a mean shift of a normal feature (100,000 rows each)."""
    rng = np.random.default_rng(SEED)
    reference = rng.normal(0.0, 1.0, ROWS)
    thresholds = DriftThresholds()
    psi = {}
    for shift in (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0):
        current = rng.normal(shift, 1.0, ROWS)
        psi[shift] = numeric_drift("x", reference, current, thresholds).statistics["psi"]
    figures(
        "PSI on reference deciles by mean shift (in sd): "
        + ", ".join(f"{s} → {v:.3f}" for s, v in psi.items())
        + f"; drift called from {min(s for s, v in psi.items() if v >= thresholds.psi)} sd"
    )
    assert list(psi.values()) == sorted(psi.values())
    assert {s for s, v in psi.items() if v >= thresholds.psi} == {0.5, 0.75, 1.0}


def test_small_windows_of_an_unchanged_world_raise_few_false_alarms(
    figures: Callable[[str], None],
) -> None:
    """Effect sizes are noisy in small windows; the tests' p-values keep the verdicts quiet.

    A 3,000-row reference (a typical training set) against 200 windows of 50 to 1,000 rows drawn
    from the same distributions: a normal feature, and categorical ones of 5, 20 and 50 values
    (Zipf-like). Without the p-value condition, JS >= 0.1 alone calls drift in 85% of the
    1,000-row windows of the 50-value feature, PSI >= 0.2 alone in half of the 50-row windows.
    """
    rng = np.random.default_rng(SEED)
    thresholds = DriftThresholds()
    reference = rng.normal(0.0, 1.0, 3000)
    domains = {k: np.array([f"v{j}" for j in range(k)]) for k in (5, 20, 50)}
    tallies = {k: _tally(domains[k][rng.choice(k, 3000, p=_zipf(k))]) for k in domains}
    rates: dict[tuple[str, int], float] = {}
    for rows in (50, 200, 1000):
        alarms = [
            numeric_drift("x", reference, rng.normal(0.0, 1.0, rows), thresholds).drifted
            for _ in range(200)
        ]
        rates["numeric", rows] = float(np.mean(alarms))
        for k, domain in domains.items():
            alarms = [
                categorical_drift(
                    "c", tallies[k], _tally(domain[rng.choice(k, rows, p=_zipf(k))]), thresholds
                ).drifted
                for _ in range(200)
            ]
            rates[f"{k} values", rows] = float(np.mean(alarms))
    figures(
        "false alarms in small windows of an unchanged world (3,000-row reference, 200 windows "
        "each): "
        + ", ".join(f"{kind} x {rows} rows {rate:.1%}" for (kind, rows), rate in rates.items())
    )
    assert max(rates.values()) <= 0.06, rates
    assert np.mean(list(rates.values())) <= 0.03, rates


def _tally(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(values, return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts, strict=True)}
