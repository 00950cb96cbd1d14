"""`dataset_drift` on the column shapes real data has: categoricals, constants, booleans, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.monitoring.drift import DriftThresholds, binned_drift, dataset_drift


def one(reference: pd.Series, current: pd.Series, categorical: bool = False):
    frames = pd.DataFrame({"x": reference}), pd.DataFrame({"x": current})
    results, _ = dataset_drift(*frames, ["x"], ["x"] if categorical else [])
    return results[0]


def test_unused_categories_of_a_pandas_categorical_are_ignored() -> None:
    dtype = pd.CategoricalDtype(["a", "b", "y", "z"])  # "z" is never seen
    reference = pd.Series(["a", "b"] * 500, dtype=dtype)
    current = pd.Series(["a", "a", "b", "y"] * 250, dtype=dtype)
    result = one(reference, current, categorical=True)
    assert result.histogram["categories"] == ["a", "b", "y"]
    assert result.histogram["new"] == ["y"]  # declared in the dtype, but absent from the reference
    assert result.drifted and result.statistics["chi2_pvalue"] < 1e-6


def test_a_single_category_and_a_constant_column_compare_without_error() -> None:
    same = one(pd.Series(["a"] * 100), pd.Series(["a"] * 50), categorical=True)
    assert same.statistics == {"js": 0.0} and not same.drifted  # no chi-squared with one value
    constant = one(pd.Series([3.0] * 100), pd.Series([3.0] * 50))
    assert constant.statistics["psi"] == pytest.approx(0.0) and not constant.drifted
    moved = one(pd.Series([3.0] * 100), pd.Series([4.0] * 50))
    assert moved.drifted and moved.histogram["current"] == [0.0, 0.0, 1.0]  # above it
    assert moved.statistics["psi"] > 5


def test_booleans_are_categorical_and_missing_values_are_left_out() -> None:
    flags = one(pd.Series([True, False] * 500), pd.Series([True] * 900 + [False] * 100))
    assert flags.kind == "categorical" and flags.drifted
    gaps = one(pd.Series([1.0, np.nan] * 500), pd.Series([np.nan] * 1000))
    assert (gaps.reference_rows, gaps.current_rows) == (500, 0)
    assert gaps.statistics == {} and not gaps.drifted


def test_thresholds_are_the_lines_the_verdicts_use() -> None:
    rng = np.random.default_rng(3)
    reference, current = pd.Series(rng.normal(0, 1, 5000)), pd.Series(rng.normal(0.3, 1, 5000))
    assert not one(reference, current).drifted  # PSI ~0.09: under the default 0.2
    frames = pd.DataFrame({"x": reference}), pd.DataFrame({"x": current})
    results, verdict = dataset_drift(*frames, ["x"], thresholds=DriftThresholds(psi=0.05))
    assert results[0].drifted and verdict == {
        "share": 1.0, "drifted": True, "features": 1, "compared": 1, "drifted_features": ["x"],
        "lost_features": [],
    }  # fmt: skip
    strict = DriftThresholds(psi=0.05, pvalue=1e-300)  # the test must also reject
    assert not dataset_drift(*frames, ["x"], thresholds=strict)[0][0].drifted


def test_psi_on_deciles_sees_a_heavy_tails_shift_that_equal_width_bins_miss() -> None:
    rng = np.random.default_rng(5)
    frames = (
        pd.DataFrame({"x": rng.lognormal(0, 1.0, 20_000)}),
        pd.DataFrame({"x": rng.lognormal(0.75, 1.0, 20_000)}),  # every value × e^0.75
    )
    deciles = dataset_drift(*frames, ["x"])[0][0]
    sturges = dataset_drift(*frames, ["x"], thresholds=DriftThresholds(psi_bins="sturges"))[0][0]
    assert deciles.drifted and deciles.statistics["psi"] > 0.3
    # Equal-width bins over both samples: nearly every row lands in the first bin.
    assert len(sturges.histogram["edges"]) - 1 == int(np.ceil(np.log2(40_000))) + 1
    assert sturges.histogram["reference"][0] > 0.9 and not sturges.drifted
    assert sturges.statistics["ks_statistic"] == deciles.statistics["ks_statistic"]


def test_an_unknown_psi_binning_is_refused() -> None:
    with pytest.raises(ValueError, match="psi_bins"):
        DriftThresholds(psi_bins="quartiles")


def test_features_that_cannot_be_compared_count_as_drifted() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"a": rng.normal(0, 1, 500), "b": rng.normal(0, 1, 500)})
    reference["c"] = rng.choice(["x", "y"], 500)
    current = reference.sample(300, random_state=1).assign(b=np.nan, c=None)
    results, verdict = dataset_drift(reference, current, ["a", "b", "c"], ["c"], vanished=["d"])
    assert [r.feature for r in results] == ["a", "b", "c"]
    assert verdict["lost_features"] == ["d", "b", "c"] and verdict["drifted_features"] == []
    assert (verdict["features"], verdict["compared"]) == (4, 1)
    assert verdict["share"] == 0.75 and verdict["drifted"]  # 3 of 4 cannot be vouched for
    _, nothing = dataset_drift(reference, current.iloc[:, :0], [], vanished=["a", "b", "c"])
    assert nothing["share"] == 1.0 and nothing["drifted"] and nothing["compared"] == 0


def test_binned_drift_compares_numbers_with_a_reference_histogram() -> None:
    rng = np.random.default_rng(6)
    reference = rng.normal(10, 2, 5000)
    counts, edges = np.histogram(reference, bins=20)
    same = binned_drift(
        "p", edges.tolist(), counts.tolist(), rng.normal(10, 2, 2000), DriftThresholds()
    )
    assert (
        not same.drifted and same.statistics["psi"] < 0.05 and same.statistics["chi2_pvalue"] > 0.01
    )
    assert same.histogram["edges"] == edges.tolist()  # nothing outside: no extra bins
    moved = binned_drift(
        "p", edges.tolist(), counts.tolist(), rng.normal(14, 2, 2000), DriftThresholds()
    )
    assert moved.drifted and moved.statistics["psi"] > 1 and moved.statistics["chi2_pvalue"] < 1e-6
    assert moved.histogram["edges"][-1] > edges[-1]  # a bin above the reference's range
    assert moved.histogram["reference"][-1] == 0.0 and moved.histogram["current"][-1] > 0
    assert sum(moved.histogram["current"]) == pytest.approx(1.0)
    empty = binned_drift(
        "p", edges.tolist(), counts.tolist(), np.array([np.nan]), DriftThresholds()
    )
    assert empty.statistics == {} and not empty.drifted
