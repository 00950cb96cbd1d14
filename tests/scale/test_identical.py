"""The same pipeline gives the same artifact ids on every executor: ids are content, not place."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.run.executors import make_executor

from . import _steps as s
from ._servers import RayCluster


@pytest.mark.ray
def test_local_process_and_ray_store_the_same_artifacts(
    project: Path, ray_cluster: RayCluster
) -> None:
    outputs: dict[str, dict[str, dict[str, str]]] = {}
    for name in ("local", "process", "ray"):
        settings = Settings.load(project / name)  # a project each: nothing comes from a cache
        (project / name).mkdir()
        executor = make_executor(name, workers=2, ray_address=ray_cluster.address)
        run = s.sweep.run(n=4, settings=settings, executor=executor)
        assert run.status == "succeeded", f"{name}: {run.error}"
        assert not any(step.cached for step in run.steps)
        outputs[name] = {step.name: step.outputs for step in run.steps}

    items = [f"square[{i}]" for i in range(4)]
    fanned = ["inc", "inc_1", "inc_2", "total", "noisy"]
    assert sorted(outputs["local"]) == sorted(
        ["numbers", "square", *items, *fanned, "frame", "describe"]
    )
    assert all(outputs["local"].values())
    assert outputs["process"] == outputs["local"]
    assert outputs["ray"] == outputs["local"]
