"""What a served model is called with: the validated float block itself, or a DataFrame.

scikit-learn spends about a millisecond per call on a DataFrame's bookkeeping (a dtype check
per column, the feature-name check) before it converts the frame to the very array the server
already holds: two thirds of a one-row `predict` of a 30-column model. When every input is a
float, the model was fitted with exactly the schema's columns in the schema's order (so the
name check has nothing left to catch), and a probe predicts the same on both forms, the server
hands the model the array. Anything else (a `ColumnTransformer` selecting by name, a transformer
reading `df["col"]`, a model that answers differently) fails the probe and keeps the frame.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from conveyor.registry.signature import InputSchema

__all__ = ["quiet_feature_names", "takes_array"]

#: what scikit-learn says when an estimator fitted on a frame gets an array; the server checked
#: the names itself, so this one warning is silenced around its calls
FEATURE_NAMES_WARNING = r"X does not have valid feature names"

#: probe rows: signs, magnitudes and fractions, so a model that treats the forms differently
#: shows it in its answers
_PROBE = (0.0, 1.0, -1.0, 0.5, 2.5, -3.75, 10.0, 1e3, -0.125, 7.0)


def takes_array(model: Any, schema: InputSchema) -> bool:
    """Whether `model` predicts the same on the schema's float block as on its DataFrame."""
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None or not schema.all_float:
        return False
    if [str(name) for name in fitted] != schema.names:
        return False
    columns = {
        name: [_PROBE[(row + col) % len(_PROBE)] for row in range(len(_PROBE))]
        for col, name in enumerate(schema.names)
    }
    frame, block = schema.frame(columns), schema.block(columns)
    methods = ["predict"] + (["predict_proba"] if hasattr(model, "predict_proba") else [])
    try:
        with quiet_feature_names():
            return all(_same(getattr(model, m)(frame), getattr(model, m)(block)) for m in methods)
    except Exception:  # the model needs the frame (or fails on the probe): keep the frame
        return False


@contextlib.contextmanager
def quiet_feature_names() -> Iterator[None]:
    """Silence scikit-learn's feature-names warning for a call on the array.

    The filter list is process-wide (until Python 3.14): besides requests, the only user in a
    server is the watcher's probe of a new version, and a race there costs one printed warning.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", FEATURE_NAMES_WARNING, UserWarning)
        yield


def _same(on_frame: Any, on_block: Any) -> bool:
    import numpy as np

    a, b = np.asarray(on_frame), np.asarray(on_block)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
