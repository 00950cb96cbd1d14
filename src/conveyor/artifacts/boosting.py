"""XGBoost and LightGBM scikit-learn models in the libraries' own formats, never pickled.

Each materializer writes one small zip, byte-for-byte reproducible (sorted members, fixed
timestamps and attributes, deflate at a fixed level):

    conveyor.json   what the library's model file does not hold: the wrapper class (one of a
                    fixed allow-list), its hyper-parameters and its fitted scikit-learn state
                    (`n_classes_`, LightGBM's classes and objective, ...), as sorted JSON
    model.json      XGBoost's JSON model, `Booster.save_raw("json")`       (`xgboost.json`)
    model.txt       LightGBM's text model, `Booster.model_to_string()`      (`lightgbm.txt`)

An unfitted estimator (a configured model passed to a training step) has no model member.
Loading parses JSON and the library's own model format: it imports no name the artifact
gives, unpickles nothing and needs no trust. The zip's CRCs make a truncated or corrupted
artifact fail with a `MaterializerError` naming the format before the library parses anything.

A value these formats cannot hold exactly is declined with `MaterializerError`, so the registry
tries the next materializer (skops, whose load then asks for trust): a subclass of the wrappers,
a callable objective or metric, a `RandomState`, an attribute the wrapper does not define.
Both are registered by dotted path in the built-in registry, so importing Conveyor imports
neither library; being registered for `xgboost.XGBModel` and `lightgbm.LGBMModel`, they come
before skops' `sklearn.base.BaseEstimator` for every wrapper.
"""

from __future__ import annotations

import collections
import io
import json
import zipfile
from typing import Any, ClassVar

from conveyor.artifacts.materializers import Materializer
from conveyor.exceptions import MaterializerError

__all__ = ["LightGBMMaterializer", "XGBoostMaterializer"]

_HEADER = "conveyor.json"
_TAG = "__conveyor__"  # marks JSON objects that stand for a tuple, a non-str-keyed dict, an array
_ARRAY_KINDS = "biufU"  # bool, int, unsigned, float, unicode: exact through JSON
_EPOCH = (1980, 1, 1, 0, 0, 0)


class _BoostingMaterializer(Materializer):
    """The container both formats share; subclasses say what goes in the model member."""

    library: ClassVar[str]  # the module to import ("xgboost")
    extra: ClassVar[str]  # the pip extra that installs it
    classes: ClassVar[tuple[str, ...]]  # wrapper classes, by name in the library's namespace
    model_member: ClassVar[str]  # the zip member that holds the library's own model file

    def save(self, value: Any) -> bytes:
        module = self._module()
        cls = type(value)
        if self._allowed(module).get(cls.__name__) is not cls:
            raise MaterializerError(
                f"{self.name} stores {', '.join(self.classes)}, not their subclass "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        if _is_random_state(getattr(value, "random_state", None)):
            raise MaterializerError(
                f"{self.name} cannot store a random_state that is a numpy random generator; "
                "give an int seed"
            )
        params = value.get_params(deep=False)
        header: dict[str, Any] = {
            "format": self.name,
            "version": self.version,
            "class": cls.__name__,
            "library_version": module.__version__,
            "params": _encode(params, "parameter"),
            "fitted": bool(value.__sklearn_is_fitted__()),
        }
        members: dict[str, bytes] = {}
        if header["fitted"]:
            header["state"] = self._state(value, params)
            members[self.model_member] = self._model_bytes(value)
        members[_HEADER] = json.dumps(
            header, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
        ).encode()
        return _zip(members)

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        header, model = _unzip(data, self.name, self.model_member)
        written_by = f"{self.library} {header.get('library_version', '?')}"
        module = self._module()
        try:
            cls = self._allowed(module).get(header["class"])
            if cls is None:
                raise MaterializerError(
                    f"the {self.name} artifact names class {header['class']!r}, which is not "
                    f"one of {', '.join(self.classes)}"
                )
            estimator = cls(**_decode(header["params"]))
            if header["fitted"]:
                if model is None:
                    raise MaterializerError(
                        f"the {self.name} artifact is fitted but has no {self.model_member}"
                    )
                self._restore(estimator, model, _decode(header["state"]))
            return estimator
        except MaterializerError:
            raise
        except Exception as err:
            raise MaterializerError(
                f"cannot load the {self.name} artifact (written by {written_by}, installed: "
                f"{self.library} {module.__version__}): {type(err).__name__}: {err}"
            ) from err

    def describe(self, value: Any) -> dict[str, Any]:
        cls = type(value)
        summary: dict[str, Any] = {
            "estimator": f"{cls.__module__}.{cls.__qualname__}",
            "params": {
                k: repr(v)[:80] for k, v in value.get_params(deep=False).items() if v is not None
            },
            "fitted": bool(value.__sklearn_is_fitted__()),
        }
        if summary["fitted"]:
            summary["n_features_in"] = int(value.n_features_in_)
            names = getattr(value, "feature_names_in_", None)
            if names is not None:
                summary["feature_names_in"] = [str(n) for n in names[:50]]
            classes = getattr(value, "classes_", None)
            if classes is not None:
                summary["classes"] = classes[:50].tolist()
        return summary

    def _module(self) -> Any:
        import importlib

        try:
            return importlib.import_module(self.library)
        except ImportError as err:
            raise MaterializerError(
                f"the {self.name} format needs {self.library}: pip install "
                f"'conveyor[{self.extra}]' ({err})"
            ) from None

    def _allowed(self, module: Any) -> dict[str, type]:
        """The allow-list: the only classes a load may instantiate."""
        return {name: getattr(module, name) for name in self.classes}

    def _state(self, value: Any, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _model_bytes(self, value: Any) -> bytes:
        raise NotImplementedError

    def _restore(self, estimator: Any, model: bytes, state: dict[str, Any]) -> None:
        raise NotImplementedError


class XGBoostMaterializer(_BoostingMaterializer):
    """XGBoost's scikit-learn wrappers as XGBoost's JSON model plus the wrapper's state.

    `load_model` restores what the booster knows (trees, objective, feature names and types,
    `n_classes_`, best iteration); the container adds the hyper-parameters, which the model file
    does not keep, and `evals_result_`.
    """

    name = "xgboost.json"
    library = "xgboost"
    extra = "xgboost"
    classes = ("XGBClassifier", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker", "XGBRegressor")
    model_member = "model.json"
    #: Fitted attributes besides the booster, stored in conveyor.json.
    fitted_attributes = frozenset({"n_classes_", "evals_result_"})

    def _state(self, value: Any, params: dict[str, Any]) -> dict[str, Any]:
        attributes = vars(value)
        extra = set(attributes) - set(params) - {"_Booster", "kwargs"}
        _refuse_unknown(self.name, value, extra - self.fitted_attributes)
        return {k: _encode(attributes[k], f"attribute {k!r}") for k in sorted(extra)}

    def _model_bytes(self, value: Any) -> bytes:
        return bytes(value.get_booster().save_raw(raw_format="json"))

    def _restore(self, estimator: Any, model: bytes, state: dict[str, Any]) -> None:
        params = estimator.get_params(deep=False)
        estimator.load_model(bytearray(model))
        # load_model sets objective, booster, base_score, ... from the booster's configuration;
        # put back the hyper-parameters as they were given, so the model saves to the same bytes.
        for key, value in params.items():
            if key in vars(estimator):
                setattr(estimator, key, value)
        for key, value in state.items():
            if key not in self.fitted_attributes:
                raise MaterializerError(
                    f"the {self.name} artifact holds unexpected attribute {key!r}"
                )
            setattr(estimator, key, value)


class LightGBMMaterializer(_BoostingMaterializer):
    """LightGBM's scikit-learn wrappers as LightGBM's text model plus the wrapper's state.

    LightGBM's wrappers have no load of their own (pickle is their way), so the fitted state
    they keep in private attributes is stored by name from a fixed list; a wrapper holding any
    attribute outside that list (a newer LightGBM) is declined rather than stored partly. The
    label encoder and class map are rebuilt from the classes, as `fit` builds them.
    """

    name = "lightgbm.txt"
    library = "lightgbm"
    extra = "lightgbm"
    classes = ("LGBMClassifier", "LGBMRanker", "LGBMRegressor")
    model_member = "model.txt"
    #: Fitted attributes besides the booster, stored in conveyor.json.
    fitted_attributes = frozenset(
        {
            "_best_iteration",
            "_best_score",
            "_class_weight",
            "_classes",
            "_eval_at",
            "_evals_result",
            "_fitted_with_feature_names",
            "_n_classes",
            "_n_features",
            "_n_features_in",
            "_objective",
            "fitted_",
        }
    )
    #: Attributes rebuilt on load: from the model text, the classes, the parameters.
    rebuilt_attributes = frozenset({"_Booster", "_class_map", "_le", "_other_params"})

    def _state(self, value: Any, params: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        from sklearn.preprocessing import LabelEncoder

        attributes = vars(value)
        extra = set(attributes) - set(params) - self.rebuilt_attributes
        _refuse_unknown(self.name, value, extra - self.fitted_attributes)
        encoder = attributes.get("_le")
        if encoder is not None and (
            type(encoder) is not LabelEncoder
            or set(vars(encoder)) != {"classes_"}
            or not np.array_equal(encoder.classes_, attributes.get("_classes"))
        ):
            raise MaterializerError(
                f"{self.name} cannot store the label encoder of this {type(value).__name__}"
            )
        return {k: _encode(attributes[k], f"attribute {k!r}") for k in sorted(extra)}

    def _model_bytes(self, value: Any) -> bytes:
        # num_iteration=-1: every tree, not only up to the best iteration (which is restored)
        return value.booster_.model_to_string(num_iteration=-1).encode()

    def _restore(self, estimator: Any, model: bytes, state: dict[str, Any]) -> None:
        import lightgbm
        from sklearn.preprocessing import LabelEncoder

        unexpected = set(state) - self.fitted_attributes
        if unexpected:
            raise MaterializerError(
                f"the {self.name} artifact holds unexpected attributes {sorted(unexpected)}"
            )
        if "_best_score" in state:  # as Booster.best_score: {data set: {metric: score}}
            state["_best_score"] = collections.defaultdict(
                collections.OrderedDict,
                {k: collections.OrderedDict(v) for k, v in state["_best_score"].items()},
            )
        booster = lightgbm.Booster(model_str=model.decode("utf-8"))
        booster.best_iteration = state.get("_best_iteration", booster.best_iteration)
        booster.best_score = state.get("_best_score", booster.best_score)
        for key, value in state.items():
            setattr(estimator, key, value)
        estimator._Booster = booster
        classes = state.get("_classes")
        if classes is not None:
            encoder = LabelEncoder()
            encoder.classes_ = classes
            estimator._le = encoder
            estimator._class_map = dict(zip(classes, encoder.transform(classes), strict=True))


def _is_random_state(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (np.random.RandomState, np.random.Generator))


def _refuse_unknown(fmt: str, value: Any, unknown: set[str]) -> None:
    if unknown:
        raise MaterializerError(
            f"{fmt} does not know how to store the attributes {sorted(unknown)} of this "
            f"{type(value).__name__}"
        )


# -- JSON with tuples, non-str keys and plain arrays -----------------------------------------------


def _encode(value: Any, where: str) -> Any:
    """JSON data that `_decode` turns back into an equal value; declines anything else.

    numpy scalars become Python numbers (equal, though not of the same type); tuples, dicts
    with keys other than str, and bool, number or str arrays become objects tagged `_TAG`.
    """
    import numpy as np

    if value is None or isinstance(value, (bool, str, int, float)):
        return _plain(value)
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": [_encode(v, where) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _TAG not in value:
            return {str(k): _encode(v, where) for k, v in value.items()}
        items = [[_encode(k, where), _encode(v, where)] for k, v in value.items()]
        return {_TAG: "dict", "items": items}
    if type(value) is np.ndarray and (
        value.dtype.kind in _ARRAY_KINDS
        or (value.dtype.kind == "O" and all(type(v) is str for v in value.flat))
    ):
        return {
            _TAG: "ndarray",
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "items": value.tolist(),
        }
    raise MaterializerError(
        f"{where} holds a {type(value).__module__}.{type(value).__qualname__}, which cannot be "
        "stored as plain data"
    )


def _plain(value: Any) -> Any:
    """The builtin value of None, bool, str, int, float or a subclass (np.float64, np.str_)."""
    for kind in (bool, str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    if tag == "tuple":
        return tuple(_decode(v) for v in value["items"])
    if tag == "dict":
        return {_decode(k): _decode(v) for k, v in value["items"]}
    if tag == "ndarray":
        import numpy as np

        dtype = np.dtype(value["dtype"])
        if dtype.kind not in _ARRAY_KINDS + "O" or dtype.fields is not None:
            raise ValueError(f"unexpected array dtype {value['dtype']!r}")
        items = value["items"]
        if dtype.kind == "O" and not _all_str(items):
            raise ValueError("an object array may only hold str")
        return np.array(items, dtype=dtype).reshape(value["shape"])
    raise ValueError(f"unknown tag {tag!r}")


def _all_str(items: Any) -> bool:
    if isinstance(items, list):
        return all(_all_str(v) for v in items)
    return type(items) is str


# -- the container ---------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(members):
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            entry.create_system = 3  # not the writer's platform
            entry.external_attr = 0o644 << 16
            archive.writestr(
                entry, members[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=6
            )
    return out.getvalue()


def _unzip(data: bytes, fmt: str, model_member: str) -> tuple[dict[str, Any], bytes | None]:
    """The header and the model bytes, with every member's CRC checked."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if _HEADER not in names or not names <= {_HEADER, model_member}:
                raise MaterializerError(
                    f"not an artifact in the {fmt} format: expected {_HEADER} and "
                    f"{model_member}, found {sorted(names)}"
                )
            header = json.loads(archive.read(_HEADER))
            model = archive.read(model_member) if model_member in names else None
    except MaterializerError:
        raise
    except Exception as err:  # BadZipFile, zlib.error, EOFError, JSON errors, ...
        raise MaterializerError(
            f"the {fmt} artifact is truncated or corrupted: {type(err).__name__}: {err}"
        ) from err
    if not isinstance(header, dict) or header.get("format") != fmt:
        found = header.get("format") if isinstance(header, dict) else None
        raise MaterializerError(
            f"not an artifact in the {fmt} format: its header names format {found!r}"
        )
    return header, model
