"""The contract kits pass on Conveyor's own implementations and catch broken ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.artifacts import materializers as m
from conveyor.artifacts.store import ArtifactStore
from conveyor.run.executors import LocalExecutor
from conveyor.testing import check_executor, check_materializer, check_store


@pytest.mark.parametrize(
    ("materializer", "value", "equal"),
    [
        (m.JsonMaterializer(), {"a": [1, 2.5, None, True, "x"]}, None),
        (m.BytesMaterializer(), b"\x00\x01raw", None),
        (m.NumpyMaterializer(), np.arange(12, dtype="float32").reshape(3, 4), np.array_equal),
        (
            m.ParquetMaterializer(),
            pd.DataFrame({"a": [1, 2], "c": pd.Categorical(["x", "y"])}),
            lambda a, b: a.equals(b),
        ),
        (m.CloudpickleMaterializer(), (1, "two", 3.0), None),
    ],
    ids=["json", "bytes", "numpy", "parquet", "cloudpickle"],
)
def test_builtin_materializers_keep_the_contract(
    materializer: m.Materializer, value: object, equal: object
) -> None:
    check_materializer(materializer, value, equal)  # type: ignore[arg-type]


def test_contract_catches_a_lossy_materializer() -> None:
    class Lossy(m.Materializer):
        name = "test.lossy"

        def save(self, value: object) -> bytes:
            return str(value).encode()

        def load(self, data: bytes, *, trust: bool = False) -> object:
            return data.decode()

    with pytest.raises(AssertionError, match="expected 42, got '42'"):
        check_materializer(Lossy(), 42)


def test_contract_catches_an_unsafe_materializer_that_loads_untrusted() -> None:
    class Careless(m.CloudpickleMaterializer):
        name = "test.careless"

        def load(self, data: bytes, *, trust: bool = False) -> object:
            return super().load(data, trust=True)

    with pytest.raises(AssertionError, match="without trust=True must raise UnsafeArtifactError"):
        check_materializer(Careless(), (1, 2))


def test_local_store_and_local_executor_keep_their_contracts() -> None:
    check_store(ArtifactStore)
    check_executor(LocalExecutor)


SKOPS_SCRIPT = """
import hashlib, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from conveyor.artifacts.materializers import SkopsMaterializer
padding = [np.zeros(i + 1) for i in range({n})]  # shift memory addresses between processes
rng = np.random.default_rng(0)
model = make_pipeline(StandardScaler(), LogisticRegression()).fit(rng.random((30, 3)), [0, 1] * 15)
print(hashlib.sha256(SkopsMaterializer().save(model)).hexdigest())
"""


def test_skops_models_keep_the_contract_and_have_reproducible_bytes() -> None:
    import subprocess
    import sys

    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.random((20, 2))
    model = LogisticRegression().fit(x, [0, 1] * 10)
    check_materializer(
        m.SkopsMaterializer(),
        model,
        lambda a, b: np.array_equal(a.predict_proba(x), b.predict_proba(x)),
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", SKOPS_SCRIPT.format(n=n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in (1, 40)
    }
    assert len(digests) == 1, "the same model must serialize to the same bytes in every process"
