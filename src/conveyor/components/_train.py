"""`train`: fit any scikit-learn-compatible estimator, given as an object or an import path.

`estimator` may be an (unfitted) estimator object, a class or factory given as an import path
(`"sklearn.ensemble.RandomForestClassifier"` or `"my_project.models:build"`), called with
`params`. XGBoost's and LightGBM's scikit-learn wrappers work the same way when installed; their
models are stored in the libraries' own formats (`conveyor[xgboost]`, `conveyor[lightgbm]`).
XGBoost's classifiers take only the labels 0..n-1: `train` fits them on each label's position
and records the labels in the model's file, so anything that loads the model through Conveyor
predicts the original labels (`conveyor.registry.labels`).

An import path is checked when the pipeline is traced without importing anything: the module's
file must exist and define or import the name (a typo refuses the run before any step executes).
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_columns, require_frame
from conveyor.components._runtime import UNKNOWN
from conveyor.core.context import log_metric, log_param
from conveyor.core.step import step
from conveyor.exceptions import DataError, ParameterError
from conveyor.profiling import jsonable, kind_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_estimator", "check_estimator_path", "features_of", "fit_model", "train"]


def _split_path(path: str, where: str = "estimator") -> tuple[str, str]:
    module_name, colon, attr = path.partition(":")
    if not colon:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr or not all(p.isidentifier() for p in module_name.split(".")):
        raise ParameterError(
            f"{where}={path!r} is not an import path like "
            "'sklearn.linear_model.LogisticRegression' or 'package.module:factory'"
        )
    return module_name, attr


def _module_file(module_name: str) -> tuple[Path | None, bool]:
    """(the module's source file or None when it cannot be read, whether it was found), located
    without importing it or its packages."""
    if module_name in sys.modules:
        module = sys.modules[module_name]
        file = getattr(module, "__file__", None)
        return (Path(file) if file and file.endswith(".py") else None), True
    search: list[str] | None = None
    spec = None
    parts = module_name.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        if i == 0:
            try:
                spec = importlib.util.find_spec(name)  # a top-level name: imports nothing
            except (ImportError, ValueError):
                return None, False
        else:
            spec = importlib.machinery.PathFinder.find_spec(name, search)
        if spec is None:
            return None, False
        if i < len(parts) - 1:
            search = list(spec.submodule_search_locations or [])
            if not search:
                return None, False
    origin = getattr(spec, "origin", None)
    if origin and origin.endswith(".py"):
        return Path(origin), True
    return None, True  # a compiled or namespace module: its names are known once imported


def _defines(source: str, attr: str) -> bool | None:
    """Whether a module's source binds `attr` at top level (None: it cannot tell)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == attr or node.name == "__getattr__":
                return True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*" or (alias.asname or alias.name.split(".")[0]) == attr:
                    return True
        elif isinstance(node, ast.Name) and node.id == attr and isinstance(node.ctx, ast.Store):
            return True
        elif isinstance(node, ast.Constant) and node.value == attr:
            return True  # a lazy loader's table, or __all__
    return False


def check_estimator_path(path: str, where: str = "estimator") -> None:
    """Refuse an import path whose module does not exist or does not have the name — found
    from the files alone, importing nothing (when it cannot tell, the import decides later)."""
    module_name, attr = _split_path(path, where)
    file, found = _module_file(module_name)
    if not found:
        raise ParameterError(f"{where}={path!r}: there is no module {module_name!r} to import")
    if file is None:
        return
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if _defines(source, attr) is False:
        raise ParameterError(f"{where}={path!r}: module {module_name!r} has no {attr!r}")


def _import(path: str) -> Any:
    try:
        module_name, attr = _split_path(path)
    except ParameterError as err:
        raise ParameterError(f"train: {err}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ParameterError(
            f"train: estimator {path!r}: cannot import {module_name!r}: {err}"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ParameterError(
            f"train: estimator {path!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None


def build_estimator(estimator: Any, params: dict[str, Any] | None = None) -> Any:
    """An unfitted estimator from an object, class or import path, with `params` applied."""
    params = dict(params or {})
    if isinstance(estimator, str):
        estimator = _import(estimator)
    if isinstance(estimator, type) or (callable(estimator) and not hasattr(estimator, "fit")):
        name = getattr(estimator, "__qualname__", repr(estimator))
        try:
            built = estimator(**params)
        except TypeError as err:
            raise ParameterError(f"train: {name} does not accept params {params}: {err}") from None
    else:
        from sklearn.base import clone

        try:
            built = clone(estimator)
        except TypeError as err:
            raise ParameterError(f"train: cannot copy estimator {estimator!r}: {err}") from None
        if params:
            try:
                built.set_params(**params)
            except ValueError as err:
                raise ParameterError(f"train: bad params {sorted(params)}: {err}") from None
    if not callable(getattr(built, "fit", None)) or not callable(getattr(built, "predict", None)):
        raise ParameterError(
            f"train: {type(built).__name__} is not an estimator (it needs fit and predict)"
        )
    return built


def _text_values(data: pd.DataFrame, columns: list[str]) -> dict[str, tuple[Any, Any]]:
    """Columns holding text among mostly numbers: column → (row, first such value)."""
    import pandas as pd

    found: dict[str, tuple[Any, Any]] = {}
    for column in columns:
        series = data[column]
        if kind_of(series) != "string":
            continue
        present = series.dropna()
        numbers = pd.to_numeric(present, errors="coerce")
        bad = numbers.isna()
        if bad.any() and not bad.all():
            found[column] = (jsonable(present.index[bad.argmax()]), present[bad].iloc[0])
    return found


def fit_error(
    err: Exception, data: pd.DataFrame, columns: list[str], step: str, action: str
) -> DataError:
    """A failure inside the estimator, said with the column(s) at fault when they can be found."""
    message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    mixed = _text_values(data, columns)
    culprits = {c: v for c, v in mixed.items() if repr(v[1]) in message or str(v[1]) in message}
    culprits = culprits or mixed
    if culprits:
        where = "; ".join(f"{c!r} has {v!r} in row {row!r}" for c, (row, v) in culprits.items())
        return DataError(
            f"{step}: {action} failed on column(s) {sorted(culprits)}: text where numbers are "
            f"expected ({where}) — {type(err).__name__}: {message}"
        )
    text = [c for c in columns if kind_of(data[c]) in ("string", "category")]
    hint = f"; text column(s) {text} need encoding for this estimator" if text else ""
    return DataError(f"{step}: {action} failed: {type(err).__name__}: {message}{hint}")


def fit_model(model: Any, X: pd.DataFrame, y: Any, step: str = "train") -> Any:
    """`model.fit(X, y)`; a ValueError or TypeError inside names the offending column(s)."""
    try:
        return model.fit(X, y)
    except (ValueError, TypeError) as err:
        raise fit_error(err, X, list(X.columns), step, f"fitting {type(model).__name__}") from err


def check_arguments(
    target: Any = UNKNOWN,
    estimator: Any = UNKNOWN,
    params: Any = UNKNOWN,
    features: Any = UNKNOWN,
    **_: Any,
) -> None:
    """train's arguments, checked when the pipeline is traced: no step has run yet."""
    if target is not UNKNOWN and not isinstance(target, str):
        raise ParameterError(f"target={target!r} must be a column name")
    if isinstance(estimator, str):
        check_estimator_path(estimator)
    elif estimator is not UNKNOWN and not (
        isinstance(estimator, type)
        or callable(getattr(estimator, "fit", None))
        or callable(estimator)
    ):
        raise ParameterError(
            f"estimator={estimator!r} is not an estimator, a class, a factory or an import path"
        )
    if (
        params is not UNKNOWN
        and params is not None
        and (not isinstance(params, dict) or not all(isinstance(k, str) for k in params))
    ):
        raise ParameterError(f"params={params!r} must be a dict of parameter name → value")
    if features is not UNKNOWN and features is not None:
        if isinstance(features, str) or not isinstance(features, (list, tuple)):
            raise ParameterError(f"features={features!r} must be a list of column names")
        if not all(isinstance(f, str) for f in features):
            raise ParameterError(f"features={features!r} must be a list of column names")


def features_of(model: Any, data: pd.DataFrame, target: str | None) -> list[str]:
    """The columns a model reads: those it was fitted on, else all but the target."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(c) for c in names]
    return [str(c) for c in data.columns if c != target]


@step(check=check_arguments)
def train(
    data: pd.DataFrame,
    target: str,
    estimator: Any = "sklearn.ensemble.RandomForestClassifier",
    params: dict[str, Any] | None = None,
    features: list[str] | None = None,
) -> Any:
    """Fit `estimator` on `data`: column `target` is y, `features` (default: the rest) are X.

    Records the estimator's class and parameters as params and the row count as a metric.
    An XGBoost classifier is fitted on the labels' positions, its labels recorded in its file.
    """
    require_frame(data, "train", "data")
    if not isinstance(target, str):
        raise ParameterError(f"train: target must be a column name, got {target!r}")
    require_columns(data, [target], "train", "target")
    if features is not None:
        require_columns(data, list(features), "train", "features")
    model = build_estimator(estimator, params)
    columns = list(features) if features is not None else [c for c in data.columns if c != target]
    y = data[target]
    if y.isna().any():
        raise ParameterError(
            f"train: target column {target!r} has {int(y.isna().sum())} missing values; "
            "drop or impute them before training"
        )
    from conveyor.registry import labels

    classes = None
    if labels.needs_encoding(model):
        y, classes = labels.encode_labels(y)
    fit_model(model, data[columns], y)
    if classes is not None:
        labels.mark(model, classes)
        log_param("classes", classes)
    cls = type(model)
    log_param("estimator", f"{cls.__module__}.{cls.__qualname__}")
    if hasattr(model, "get_params"):
        log_param("estimator_params", jsonable(model.get_params(deep=False)))
    log_metric("train_rows", len(data))
    return model
