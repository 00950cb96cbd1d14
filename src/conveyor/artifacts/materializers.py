"""Materializers turn values into bytes and back, one on-disk format per type.

A materializer's `name` is persisted with every artifact it writes: never rename one, bump its
`version` when its format changes. Lookup walks the value's type MRO by qualified name, so the
registry knows pandas, numpy and scikit-learn without importing them. Candidates are tried in
order: one that cannot write a particular value (a DataFrame with non-string column names, an
object array) declines with `MaterializerError` and the next is tried, ending at cloudpickle,
whose artifacts are marked unsafe and load only when trusted. XGBoost's and LightGBM's
scikit-learn models have their own materializers, in `boosting.py`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any, ClassVar

from conveyor.artifacts.trust import (
    DEFAULT_TRUSTED_MODULES,
    PURE_FUNCTION_MODULES,
    held_callables,
    is_trusted,
)
from conveyor.core.hashing import canonical_json, digest
from conveyor.core.lazytypes import matches
from conveyor.exceptions import MaterializerError, UnsafeArtifactError

__all__ = [
    "BytesMaterializer",
    "CloudpickleMaterializer",
    "JsonMaterializer",
    "Materializer",
    "MaterializerRegistry",
    "NumpyMaterializer",
    "NumpyScalarMaterializer",
    "ParquetMaterializer",
    "SeriesParquetMaterializer",
    "SkopsMaterializer",
    "default_registry",
    "register_materializer",
]


class Materializer:
    """Writes values of some types to bytes and reads them back.

    Subclasses set `name` (persisted: never rename), `version`, `safe` (False when loading can run
    arbitrary code) and implement `save` and `load`. `describe` gives the small JSON summary shown
    by `conveyor artifacts show` without loading the artifact.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    safe: ClassVar[bool] = True

    def save(self, value: Any) -> bytes:
        raise NotImplementedError

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        raise NotImplementedError

    def describe(self, value: Any) -> dict[str, Any]:
        return {}


class JsonMaterializer(Materializer):
    """None, bool, int, float, str, and lists and str-keyed dicts of them, exactly."""

    name = "json"

    def save(self, value: Any) -> bytes:
        if not _json_exact(value):
            raise MaterializerError("value is not plain JSON data (tuples, non-str keys, objects)")
        return json.dumps(value, ensure_ascii=False, allow_nan=True).encode()

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        return json.loads(data)

    def describe(self, value: Any) -> dict[str, Any]:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
        if len(text) <= 500:
            return {"value": value}
        kind = type(value).__name__
        return {
            "preview": text[:500] + "…",
            "length": len(value) if kind in ("list", "dict", "str") else None,
        }


def _json_exact(value: Any, depth: int = 0) -> bool:
    if depth > 100:
        return False
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return True
    if kind is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False


class BytesMaterializer(Materializer):
    """Raw bytes, stored as they are."""

    name = "bytes"

    def save(self, value: Any) -> bytes:
        return bytes(value)

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        return data

    def describe(self, value: Any) -> dict[str, Any]:
        return {"length": len(value), "head": bytes(value[:32]).hex()}


class NumpyMaterializer(Materializer):
    """numpy arrays as `.npy`, never with pickled objects."""

    name = "numpy.npy"

    def save(self, value: Any) -> bytes:
        import numpy as np

        if value.dtype.hasobject:
            raise MaterializerError("object arrays cannot be stored as .npy without pickle")
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return buffer.getvalue()

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)

    def describe(self, value: Any) -> dict[str, Any]:
        summary: dict[str, Any] = {"shape": list(value.shape), "dtype": str(value.dtype)}
        if value.size <= 20:
            summary["value"] = value.tolist()
        return summary


class NumpyScalarMaterializer(NumpyMaterializer):
    """numpy scalars (what `np.mean` returns) as 0-d `.npy`, loaded back as the same scalar type."""

    name = "numpy.scalar"

    def save(self, value: Any) -> bytes:
        import numpy as np

        return super().save(np.asarray(value))

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        return super().load(data)[()]

    def describe(self, value: Any) -> dict[str, Any]:
        return {"value": value.item(), "dtype": str(value.dtype)}


#: Parquet dictionary pages stop growing here and the column falls back to plain encoding. With
#: pyarrow's 1 MiB, a column of 65,000 distinct floats was dictionary-encoded in full: ~4x the
#: write time, and a larger file. Columns with few distinct values keep their dictionary.
DICTIONARY_PAGE_BYTES = 64 * 1024


class ParquetMaterializer(Materializer):
    """pandas DataFrames as Parquet (pyarrow), index, dtypes and categoricals included."""

    name = "pandas.parquet"

    def save(self, value: Any) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not all(isinstance(c, str) for c in value.columns):
            raise MaterializerError("Parquet needs str column names")
        try:
            table = pa.Table.from_pandas(value)
        except (pa.ArrowException, TypeError, ValueError) as err:
            raise MaterializerError(f"pyarrow cannot convert this DataFrame: {err}") from err
        buffer = io.BytesIO()
        pq.write_table(table, buffer, dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
        return buffer.getvalue()

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data)).to_pandas()

    def describe(self, value: Any) -> dict[str, Any]:
        return {
            "shape": list(value.shape),
            "dtypes": {str(c): str(t) for c, t in value.dtypes.items()},
            "head": json.loads(value.head(5).to_json(orient="split", date_format="iso")),
        }


class SeriesParquetMaterializer(ParquetMaterializer):
    """pandas Series as a one-column Parquet file."""

    name = "pandas.series.parquet"

    def save(self, value: Any) -> bytes:
        data = super().save(value.to_frame(name="__series__"))
        return json.dumps({"name": value.name}, default=str).encode() + b"\n" + data

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        header, _, body = data.partition(b"\n")
        series = super().load(body)["__series__"]
        series.name = json.loads(header)["name"]
        return series

    def describe(self, value: Any) -> dict[str, Any]:
        return {"shape": [len(value)], "dtype": str(value.dtype), "name": str(value.name)}


class SkopsMaterializer(Materializer):
    """scikit-learn estimators with skops: loading checks every type against a trusted list.

    Without `trust`, a model loads when each type or function skops does not trust itself passes
    `conveyor.artifacts.trust.is_trusted`; `trusted_modules` are the user's own (`trusted_types`),
    trusted whole.
    """

    name = "sklearn.skops"

    def __init__(self, trusted_modules: Iterable[str] = ()) -> None:
        self.trusted_modules = tuple(trusted_modules)

    def save(self, value: Any) -> bytes:
        import skops.io

        try:
            data = skops.io.dumps(value)
        except Exception as err:  # skops refuses what it cannot audit; fall back to the next
            raise MaterializerError(f"skops cannot save {type(value).__name__}: {err}") from err
        return _stable_zip(data)

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=data)
        called = held_callables(data) if untrusted else set()
        refused = [
            t for t in untrusted if not is_trusted(t, self.trusted_modules, called=t in called)
        ]
        if refused and not trust:
            raise UnsafeArtifactError(
                f"the model holds types or functions that are not trusted: {refused} (trusted: "
                f"objects of classes of {list(DEFAULT_TRUSTED_MODULES)}; as callables, the "
                f"functions of {list(PURE_FUNCTION_MODULES)}, numpy's reductions and scalar "
                f"types; anything of {list(self.trusted_modules)}); load it with trust=True "
                "(--trust) if you trust its source, or add its module to trusted_types"
            )
        return skops.io.loads(data, trusted=untrusted)

    def describe(self, value: Any) -> dict[str, Any]:
        params = {}
        if hasattr(value, "get_params"):
            params = {k: repr(v)[:80] for k, v in value.get_params(deep=False).items()}
        return {
            "estimator": f"{type(value).__module__}.{type(value).__qualname__}",
            "params": params,
        }


def _stable_zip(data: bytes) -> bytes:
    """Make a skops archive byte-for-byte reproducible, so equal models get equal ids.

    skops names objects and array files (`.npy`, sparse `.npz`) after `id()` (memory addresses),
    names `bytes` files after random uuids, and stamps zip entries with the current time.
    Renumber the ids in order of first appearance, consistently in `schema.json` and in the file
    names, number the other files in the same order, and fix the timestamps.
    """
    import posixpath
    import re
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as src:
        members = {info.filename: (info, src.read(info.filename)) for info in src.infolist()}
    schema = json.loads(members["schema.json"][1])
    numbers: dict[int, int] = {}
    files: dict[str, str] = {}  # skops's member name -> stable name

    def renumber(value: int) -> int:
        return numbers.setdefault(value, len(numbers) + 1)

    def rename(file: str) -> str:
        if file not in files:
            match = re.fullmatch(r"(\d+)\.(npy|npz)", file)
            if match:
                files[file] = f"{renumber(int(match.group(1)))}.{match.group(2)}"
            else:
                files[file] = f"file-{len(files) + 1}{posixpath.splitext(file)[1]}"
        return files[file]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            result = {}
            for key, item in node.items():
                if key == "__id__" and isinstance(item, int):
                    result[key] = renumber(item)
                elif key == "file" and isinstance(item, str) and item in members:
                    result[key] = rename(item)
                else:
                    result[key] = walk(item)
            return result
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    stable = walk(schema)
    renamed = {"schema.json": json.dumps(stable, indent=2).encode()}
    for name, (_, content) in members.items():
        if name != "schema.json":
            renamed[rename(name)] = content
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in sorted(renamed):
            info, _ = members.get(name, members["schema.json"])
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = info.compress_type
            dst.writestr(entry, renamed[name])
    return out.getvalue()


class CloudpickleMaterializer(Materializer):
    """Anything else, with cloudpickle. Unsafe: loading runs code, so it needs `trust=True`."""

    name = "cloudpickle"
    safe = False

    def save(self, value: Any) -> bytes:
        import cloudpickle

        try:
            return cloudpickle.dumps(value, protocol=5)
        except Exception as err:
            raise MaterializerError(
                f"cloudpickle cannot serialize {type(value).__name__}: {err}"
            ) from err

    def load(self, data: bytes, *, trust: bool = False) -> Any:
        if not trust:
            raise UnsafeArtifactError(
                "it was stored with cloudpickle, and unpickling runs arbitrary code; load it "
                "with trust=True (CLI: --trust, config: trust_pickle = true) if you trust its "
                "source, or register a materializer for its type"
            )
        import cloudpickle

        return cloudpickle.loads(data)

    def describe(self, value: Any) -> dict[str, Any]:
        return {"repr": repr(value)[:200]}


class MaterializerRegistry:
    """Type → materializers to try, most specific type first.

    Types are classes or dotted paths ("pandas.DataFrame"); a path is resolved only once its
    package is imported, so registering built-ins costs no imports.
    """

    def __init__(self) -> None:
        self._by_type: dict[type | str, list[Materializer]] = {}
        self._by_name: dict[str, Materializer] = {}
        self._fallback: Materializer = CloudpickleMaterializer()
        self._by_name[self._fallback.name] = self._fallback
        self._resolved: dict[type, tuple[Materializer, ...]] = {}

    def register(self, type_: type | str, materializer: Materializer) -> None:
        """Use `materializer` for `type_` (a class or "package.Class") and its subclasses."""
        if not isinstance(materializer, Materializer):
            raise MaterializerError(f"{materializer!r} is not a conveyor Materializer")
        if not getattr(materializer, "name", None):
            raise MaterializerError(f"{type(materializer).__name__} has no name")
        existing = self._by_name.get(materializer.name)
        if existing is not None and type(existing) is not type(materializer):
            raise MaterializerError(
                f"a different materializer is already named {materializer.name!r}"
            )
        self._by_type.setdefault(type_, []).insert(0, materializer)
        self._by_name[materializer.name] = materializer
        self._resolved.clear()

    def candidates(self, value: Any) -> tuple[Materializer, ...]:
        """Materializers to try for `value`, in order; the last is always cloudpickle."""
        cls = type(value)
        found = self._resolved.get(cls)
        if found is None:
            ranked: list[tuple[int, int, Materializer]] = []
            for order, (key, mats) in enumerate(self._by_type.items()):
                if isinstance(key, str):
                    depth = matches(cls, key)
                else:
                    depth = cls.__mro__.index(key) if key in cls.__mro__ else None
                if depth is not None:
                    ranked += [(depth, -order, mat) for mat in mats]
            chain: list[Materializer] = []
            for _, _, mat in sorted(ranked, key=lambda item: item[:2]):
                if mat not in chain:
                    chain.append(mat)
            chain.append(self._fallback)
            found = self._resolved[cls] = tuple(chain)
        return found

    def __getstate__(self) -> dict[str, Any]:
        # The per-type cache stays behind when a task ships to a worker: it may hold any type a
        # step ever returned, some of which (a lock's type, say) cannot be rebuilt elsewhere.
        return {**self.__dict__, "_resolved": {}}

    def get(self, name: str) -> Materializer:
        try:
            return self._by_name[name]
        except KeyError:
            raise MaterializerError(
                f"no materializer named {name!r} is registered; import the plugin that provides it"
            ) from None

    def digest(self) -> str:
        """Hash of every materializer's name and version: part of each step's cache key."""
        items = sorted((m.name, m.version) for m in self._by_name.values())
        return digest(canonical_json(items).encode())


def _builtin_registry(trusted_modules: Iterable[str] = ()) -> MaterializerRegistry:
    registry = MaterializerRegistry()
    json_mat = JsonMaterializer()
    for kind in (type(None), bool, int, float, str, list, dict):
        registry.register(kind, json_mat)
    raw = BytesMaterializer()
    registry.register(bytes, raw)
    registry.register(bytearray, raw)
    registry.register("numpy.ndarray", NumpyMaterializer())
    registry.register("numpy.generic", NumpyScalarMaterializer())
    registry.register("pandas.DataFrame", ParquetMaterializer())
    registry.register("pandas.Series", SeriesParquetMaterializer())
    registry.register("sklearn.base.BaseEstimator", SkopsMaterializer(trusted_modules))
    # The wrappers subclass BaseEstimator; their own, nearer classes put these before skops.
    from conveyor.artifacts.boosting import LightGBMMaterializer, XGBoostMaterializer

    registry.register("xgboost.XGBModel", XGBoostMaterializer())
    registry.register("lightgbm.LGBMModel", LightGBMMaterializer())
    return registry


class _Trusting(MaterializerRegistry):
    """A registry that loads skops models with more trusted modules than `base` does.

    It shares everything else with `base`, including what is registered on it later.
    """

    def __init__(self, base: MaterializerRegistry, trusted_modules: Iterable[str]) -> None:
        self.base = base
        self.skops = SkopsMaterializer(trusted_modules)

    def register(self, type_: type | str, materializer: Materializer) -> None:
        self.base.register(type_, materializer)

    def candidates(self, value: Any) -> tuple[Materializer, ...]:
        return tuple(
            self.skops if m.name == SkopsMaterializer.name else m
            for m in self.base.candidates(value)
        )

    def get(self, name: str) -> Materializer:
        return self.skops if name == SkopsMaterializer.name else self.base.get(name)

    def digest(self) -> str:
        return self.base.digest()  # trust changes what loads, never what is written


def trusting(registry: MaterializerRegistry, modules: Iterable[str]) -> MaterializerRegistry:
    """`registry`, with skops also trusting types from `modules` ("my_project.", "xgboost.")."""
    modules = tuple(modules)
    return _Trusting(registry, modules) if modules else registry


_DEFAULT: MaterializerRegistry | None = None


def default_registry() -> MaterializerRegistry:
    """The process's registry: built-ins plus whatever `register_materializer` added."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = _builtin_registry()
    return _DEFAULT


def register_materializer(type_: type | str, materializer: Materializer) -> None:
    """Store values of `type_` with `materializer` from now on, in this process."""
    default_registry().register(type_, materializer)
