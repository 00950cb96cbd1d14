"""`dataset_drift` on the column shapes real data has: categoricals, constants, booleans, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.monitoring.drift import DriftThresholds, dataset_drift


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
        "share": 1.0, "drifted": True, "features": 1, "drifted_features": ["x"],
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
