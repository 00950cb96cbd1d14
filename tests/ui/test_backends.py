"""The dashboard's reads on both metadata backends: SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.ui import pipelines as p
from tests.ui.conftest import UiServer

from conveyor.config import Settings
from conveyor.registry import ModelRegistry
from conveyor.ui.app import UiConfig
from conveyor.workspace import close_workspaces, open_workspace


def test_every_read_works_on_each_backend(metadata_url: str, tmp_path: Path, monkeypatch) -> None:
    for var in ("CONVEYOR_DB", "CONVEYOR_ARTIFACTS", "CONVEYOR_TRUST_PICKLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CONVEYOR_DB", metadata_url)
    settings = Settings.load(tmp_path)
    runs = [p.training.run(lr=lr, n=40, settings=settings) for lr in (0.1, 0.2)]
    failed = p.fragile.run(n=20, settings=settings)
    registry = ModelRegistry(open_workspace(settings))
    registry.register("toy", runs[0].step("fit").outputs["output"], run_id=runs[0].id)
    registry.promote("toy", 1, "production", reason="first")
    server = UiServer(UiConfig(root=str(tmp_path))).start()
    try:
        with server.client() as api:
            listed = api.get("/api/runs", params={"params": "lr=0.2", "limit": 1}).json()
            assert [r["id"] for r in listed["runs"]] == [runs[1].id] and listed["total"] == 1
            assert api.get("/api/runs", params={"status": "failed"}).json()["total"] == 1
            run = api.get(f"/api/runs/{runs[1].id[:8]}").json()
            assert len(run["dag"]["edges"]) == 4
            step = api.get(f"/api/runs/{failed.id}/steps/explode").json()
            assert step["error_type"] == "ValueError"
            data = runs[0].step("holdout").outputs["train"]
            assert api.get(f"/api/artifacts/{data}").json()["profile"]["rows"] == 30
            lineage = api.get(f"/api/artifacts/{data}/lineage").json()
            assert any(n.get("count") == 2 for n in lineage["nodes"])  # fit, in both runs
            compare = api.get("/api/compare", params={"runs": f"{runs[0].id},{runs[1].id}"})
            assert compare.json()["differing"] == ["lr"]
            assert api.get("/api/models/toy").json()["aliases"] == {"production": 1}
            assert api.get("/api/monitoring").json() == {"models": [], "triggers": []}
    finally:
        server.stop()
        close_workspaces()
