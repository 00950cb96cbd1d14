"""Drift of one dataset against a reference, feature by feature, with scipy's statistics.

Numeric features: the population stability index (PSI, on the reference's decile bins) and the
two-sample Kolmogorov–Smirnov test. Categorical features: Pearson's chi-squared test (of the two
samples' homogeneity) and the Jensen–Shannon distance between the category frequencies. Each
feature gets a verdict from its effect size — PSI ≥ 0.2 or JS ≥ 0.1 by default, the usual
"significant shift" lines — because at the sizes monitoring sees (10⁵–10⁶ rows) the tests'
p-values call every trivial shift significant. The test must still find the change significant
(p < 0.01): in small windows the effect sizes are noise — the JS distance of a 50-value feature
exceeds 0.1 in most 1,000-row samples of its own reference, PSI in half of 50-row ones — and the
p-value is what tells noise from change there. The dataset drifts when at least `share` of its
features do; a feature that cannot be compared — gone from the live data, or without a usable value
in it — counts as drifted: nothing vouches for it (`lost_features` lists them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "DriftThresholds",
    "FeatureDrift",
    "binned_drift",
    "categorical_drift",
    "dataset_drift",
    "numeric_drift",
]

_EPS = 1e-4  # floor of a bin's share, so empty bins do not make PSI infinite


@dataclasses.dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.2
    js: float = 0.1
    share: float = 0.5  # of features drifted → the dataset drifted
    pvalue: float = 0.01  # and the KS / chi-squared test must reject "same distribution"
    # PSI's bins: the reference's deciles (default: every bin holds a tenth of the reference, so a
    # heavy tail's shift shows), or "sturges": equal-width bins over both samples, as Evidently
    # bins, for numbers comparable with a report made there.
    psi_bins: str = "deciles"

    def __post_init__(self) -> None:
        if self.psi_bins not in ("deciles", "sturges"):
            raise ValueError(f"psi_bins must be 'deciles' or 'sturges', not {self.psi_bins!r}")


@dataclasses.dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # numeric | categorical
    drifted: bool
    statistics: dict[str, float]  # psi, ks_statistic, ks_pvalue | js, chi2, chi2_pvalue
    reference_rows: int
    current_rows: int
    histogram: dict[
        str, Any
    ]  # what the report plots: bins/categories, reference and current shares

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _shares(counts: np.ndarray) -> np.ndarray:
    import numpy as np

    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.clip(shares, _EPS, None)


def numeric_drift(
    name: str, reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds
) -> FeatureDrift:
    """PSI (bins: `thresholds.psi_bins`) and KS of two numeric samples, missing values dropped."""
    import numpy as np
    from scipy import stats

    ref = reference[~np.isnan(reference)]
    cur = current[~np.isnan(current)]
    if not len(ref) or not len(cur):
        return FeatureDrift(name, "numeric", False, {}, len(ref), len(cur), {})
    if thresholds.psi_bins == "sturges":
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        ref_counts, cur_counts = np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
        if len(edges) < 2:  # a constant: below it, it, above it
            edges = np.array(
                [edges[0] - 0.5, edges[0], np.nextafter(edges[0], np.inf), edges[0] + 0.5]
            )
        inner = edges[1:-1]  # open-ended outer bins: values beyond the reference range count
        bins = len(edges) - 1
        ref_counts = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=bins)
        cur_counts = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=bins)
    p, q = _shares(ref_counts), _shares(cur_counts)
    psi = float(np.sum((q - p) * np.log(q / p)))
    ks = stats.ks_2samp(ref, cur, method="asymp")
    return FeatureDrift(
        name,
        "numeric",
        psi >= thresholds.psi and float(ks.pvalue) < thresholds.pvalue,
        {"psi": psi, "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue)},
        len(ref),
        len(cur),
        {
            "edges": edges.tolist(),
            "reference": (ref_counts / ref_counts.sum()).tolist(),
            "current": (cur_counts / cur_counts.sum()).tolist(),
        },
    )


def categorical_drift(
    name: str,
    reference: dict[str, int],
    current: dict[str, int],
    thresholds: DriftThresholds,
) -> FeatureDrift:
    """Chi-squared and Jensen–Shannon distance between two sets of category counts."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    # Categories seen in either sample (a pandas Categorical also counts its unused ones as 0)
    categories = sorted({c for c, n in (*reference.items(), *current.items()) if n}, key=str)
    ref = np.array([reference.get(c, 0) for c in categories], dtype=float)
    cur = np.array([current.get(c, 0) for c in categories], dtype=float)
    if not ref.sum() or not cur.sum():
        return FeatureDrift(name, "categorical", False, {}, int(ref.sum()), int(cur.sum()), {})
    js = float(jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2))
    # Homogeneity of the two samples (a 2 x k table), not goodness of fit to the reference's
    # shares: those are estimates too, and taking them as exact calls their sampling noise drift.
    chi2 = stats.chi2_contingency(np.vstack([ref, cur])) if len(categories) > 1 else None
    values = {"js": 0.0 if math.isnan(js) else js}
    if chi2 is not None:
        values |= {"chi2": float(chi2.statistic), "chi2_pvalue": float(chi2.pvalue)}
    return FeatureDrift(
        name,
        "categorical",
        values["js"] >= thresholds.js and values.get("chi2_pvalue", 0.0) < thresholds.pvalue,
        values,
        int(ref.sum()),
        int(cur.sum()),
        {
            "categories": [str(c) for c in categories],
            "reference": (ref / ref.sum()).tolist(),
            "current": (cur / cur.sum()).tolist(),
            "new": [str(c) for c in categories if not reference.get(c)],
        },
    )


def binned_drift(
    name: str,
    edges: Sequence[float],
    reference: Sequence[int],
    current: np.ndarray,
    thresholds: DriftThresholds,
) -> FeatureDrift:
    """PSI and chi-squared of numeric values against a reference kept only as a histogram.

    For a regression model's predictions, whose reference is the histogram captured at
    registration: the current values are binned on its edges, plus a bin below and one above when
    values fall outside them (their edges are the current extremes). The verdict is PSI's line, and
    the chi-squared test of the two binned samples must reject (there are no raw values for KS).
    """
    import numpy as np
    from scipy import stats

    cur = current[~np.isnan(current)]
    ref_counts = np.asarray(reference, dtype=float)
    if not len(cur) or not ref_counts.sum() or len(edges) < 2:
        return FeatureDrift(name, "numeric", False, {}, int(ref_counts.sum()), len(cur), {})
    inner = np.asarray(edges[1:-1], dtype=float)
    cur_counts = np.bincount(
        np.searchsorted(inner, cur, side="right"), minlength=len(ref_counts)
    ).astype(float)
    lows, highs = cur < edges[0], cur > edges[-1]
    cur_counts[0] -= lows.sum()
    cur_counts[-1] -= highs.sum()
    bounds = list(edges)
    if lows.any():  # outside the reference's range: a bin of its own, empty in the reference
        bounds.insert(0, float(cur.min()))
        ref_counts, cur_counts = np.r_[0.0, ref_counts], np.r_[float(lows.sum()), cur_counts]
    if highs.any():
        bounds.append(float(cur.max()))
        ref_counts, cur_counts = np.r_[ref_counts, 0.0], np.r_[cur_counts, float(highs.sum())]
    p, q = _shares(ref_counts), _shares(cur_counts)
    values = {"psi": float(np.sum((q - p) * np.log(q / p)))}
    used = (ref_counts + cur_counts) > 0
    if used.sum() > 1:
        chi2 = stats.chi2_contingency(np.vstack([ref_counts[used], cur_counts[used]]))
        values |= {"chi2": float(chi2.statistic), "chi2_pvalue": float(chi2.pvalue)}
    return FeatureDrift(
        name,
        "numeric",
        values["psi"] >= thresholds.psi and values.get("chi2_pvalue", 1.0) < thresholds.pvalue,
        values,
        int(ref_counts.sum()),
        len(cur),
        {
            "edges": [float(e) for e in bounds],
            "reference": (ref_counts / ref_counts.sum()).tolist(),
            "current": (cur_counts / cur_counts.sum()).tolist(),
        },
    )


def counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.value_counts(dropna=True).items()}


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    thresholds: DriftThresholds | None = None,
    vanished: Sequence[str] = (),
) -> tuple[list[FeatureDrift], dict[str, Any]]:
    """Drift of each feature and the dataset verdict.

    Args:
        features: the features to compare (present in both frames).
        vanished: features of the reference missing from `current`: not compared, and counted as
            lost.

    Returns:
        The per-feature results, and `{"share", "drifted", "features", "compared",
        "drifted_features", "lost_features"}`: `share` is (drifted + lost) / features, where a
        lost feature is a vanished one or one without a usable value on either side.
    """
    import pandas as pd

    thresholds = thresholds or DriftThresholds()
    results = []
    for name in features:
        ref, cur = reference[name], current[name]
        numeric = name not in categorical and pd.api.types.is_numeric_dtype(ref.dtype)
        if numeric and not pd.api.types.is_bool_dtype(ref.dtype):
            cur_values = pd.to_numeric(cur, errors="coerce").to_numpy(dtype="float64")
            results.append(
                numeric_drift(name, ref.to_numpy(dtype="float64"), cur_values, thresholds)
            )
        else:
            results.append(categorical_drift(name, counts(ref), counts(cur), thresholds))
    drifted = [r.feature for r in results if r.drifted]
    lost = [*vanished, *(r.feature for r in results if not r.statistics)]
    total = len(results) + len(vanished)
    share = (len(drifted) + len(lost)) / total if total else 0.0
    return results, {
        "share": share,
        "drifted": share >= thresholds.share and share > 0,
        "features": total,
        "compared": total - len(lost),
        "drifted_features": drifted,
        "lost_features": lost,
    }
