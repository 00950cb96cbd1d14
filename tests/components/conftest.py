"""Fixtures for the components: the penguins data shipped with the example project."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PENGUINS = Path(__file__).parents[2] / "examples" / "penguins" / "data" / "penguins.csv"


@pytest.fixture
def penguins() -> pd.DataFrame:
    return pd.read_csv(PENGUINS)


@pytest.fixture
def penguins_csv(project: Path) -> Path:
    target = project / "penguins.csv"
    target.write_bytes(PENGUINS.read_bytes())
    return target
