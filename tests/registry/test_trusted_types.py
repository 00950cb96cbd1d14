"""`trusted_types` in conveyor.toml: the user's own estimator classes load from skops safely."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conveyor.config import Settings
from conveyor.exceptions import ConfigError, UnsafeArtifactError
from conveyor.registry import ModelRegistry
from conveyor.workspace import close_workspaces, open_workspace

FEATURES = textwrap.dedent(
    """
    from sklearn.base import BaseEstimator, TransformerMixin


    class Doubler(BaseEstimator, TransformerMixin):
        def fit(self, X, y=None):
            return self

        def transform(self, X):
            return X * 2
    """
)

PIPELINE = textwrap.dedent(
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    import conveyor as cv
    from myfeatures import Doubler


    @cv.step
    def fit() -> object:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(60, 2))
        return make_pipeline(Doubler(), LogisticRegression()).fit(x, x[:, 0] > 0)


    @cv.pipeline
    def training():
        return fit()
    """
)


@pytest.fixture
def registered(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (project / "myfeatures.py").write_text(FEATURES)
    (project / "flow.py").write_text(PIPELINE)
    monkeypatch.syspath_prepend(str(project))
    from conveyor.run.loading import load_pipeline

    run = load_pipeline(str(project / "flow.py:training")).run()
    ModelRegistry(open_workspace(Settings.load(project))).register(
        "doubler", run.output_ids["output"]
    )
    yield project
    for name in ("myfeatures", "flow"):
        sys.modules.pop(name, None)


def test_a_project_class_is_refused_until_the_config_trusts_it(registered: Path) -> None:
    with pytest.raises(UnsafeArtifactError, match=r"myfeatures\.Doubler"):
        ModelRegistry(open_workspace(Settings.load(registered))).load("doubler")
    close_workspaces()
    (registered / "conveyor.toml").write_text('[conveyor]\ntrusted_types = ["myfeatures."]\n')
    model = ModelRegistry(open_workspace(Settings.load(registered))).load("doubler")
    assert model.predict(np.array([[1.0, 0.0], [-1.0, 0.0]])).tolist() == [True, False]


def test_trusted_types_from_the_environment_and_bad_values(
    registered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_TRUSTED_TYPES", "myfeatures., other.pkg")
    settings = Settings.load(registered)
    assert settings.trusted_types == ("myfeatures.", "other.pkg")
    assert ModelRegistry(open_workspace(settings)).load("doubler") is not None
    monkeypatch.setenv("CONVEYOR_TRUSTED_TYPES", "not a module!")
    with pytest.raises(ConfigError, match="trusted_types"):
        Settings.load(registered)
