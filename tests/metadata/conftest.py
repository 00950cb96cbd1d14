"""A metadata store per test, on every backend (see `metadata_url` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.metadata.store import MetadataStore


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    opened = MetadataStore(metadata_url)
    yield opened
    opened.close()
