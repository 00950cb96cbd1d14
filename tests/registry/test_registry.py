"""The model registry: versions, aliases, promotion, rollback, safe loading, lineage, the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

import conveyor as cv
from conveyor.config import Settings
from conveyor.exceptions import NotFoundError, ParameterError, RunStateError, UnsafeArtifactError
from conveyor.registry import ModelRegistry, parse_ref
from conveyor.workspace import Workspace

CONVEYOR = str(Path(sys.executable).with_name("conveyor"))


@cv.step(outputs=("x", "y"))
def data(n: int) -> tuple:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


@cv.step
def fit(x: np.ndarray, y: np.ndarray, C: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=C).fit(x, y)


@cv.pipeline
def training(n: int = 200, C: float = 1.0):
    x, y = data(n)
    return {"model": fit(x, y, C=C), "x": x}


def register_run(registry: ModelRegistry, settings: Settings, C: float, accuracy: float):
    run = training.run(n=200, C=C, settings=settings)
    step = run.step("fit")
    return registry.register(
        "clf",
        run.output_ids["model"],
        run_id=run.id,
        step_run_id=step.id,
        metrics={"accuracy": accuracy},
        signature={"x0": "float64", "x1": "float64", "x2": "float64"},
        data={"x": run.step("data").outputs["x"], "y": run.step("data").outputs["y"]},
        description=f"C={C}",
    )


def test_versions_aliases_promotion_rollback_and_loading(workspace: Workspace) -> None:
    registry = ModelRegistry(workspace)
    settings = workspace.settings
    v1 = register_run(registry, settings, C=1.0, accuracy=0.91)
    v2 = register_run(registry, settings, C=0.1, accuracy=0.93)
    assert (v1.version, v2.version) == (1, 2)
    assert registry.get("clf").version == 2  # the latest
    registry.promote("clf", 1, "production", reason="first model")
    registry.promote("clf", 2, "production", reason="better accuracy")
    registry.promote("clf", 2, "candidate")
    assert registry.get("clf@production").version == 2
    assert registry.get("clf:1").aliases == ()
    assert registry.get("clf:2").aliases == ("candidate", "production")
    back = registry.rollback("clf", "production", reason="latency regression")
    assert (back.version, back.previous_version, back.action) == (1, 2, "rollback")
    assert registry.get("clf@production").version == 1
    with pytest.raises(RunStateError, match="nothing to roll back to"):
        registry.rollback("clf", "production")
    history = registry.history("clf", "production")
    assert [(e.action, e.version, e.reason) for e in history] == [
        ("promote", 1, "first model"),
        ("promote", 2, "better accuracy"),
        ("rollback", 1, "latency regression"),
    ]
    assert all(e.by for e in history)
    model = cv.load_model("clf@production", settings=settings)
    assert isinstance(model, LogisticRegression)
    assert model.C == 1.0
    assert model.predict(np.zeros((1, 3))).shape == (1,)


def test_bad_references_and_unknown_targets_leave_the_registry_unchanged(
    workspace: Workspace,
) -> None:
    registry = ModelRegistry(workspace)
    register_run(registry, workspace.settings, C=1.0, accuracy=0.9)
    registry.promote("clf", 1, "production")
    for text, message in (
        ("bad name!", "not a valid model name"),
        ("clf:zero", "the version must be a number"),
        ("clf@", "expected NAME@ALIAS"),
    ):
        with pytest.raises(ParameterError, match=message):
            parse_ref(text)
    with pytest.raises(NotFoundError, match="has no alias 'staging'; aliases: \\['production'\\]"):
        registry.get("clf@staging")
    with pytest.raises(NotFoundError, match="has no version 7; versions: \\[1\\]"):
        registry.promote("clf", 7, "production")
    with pytest.raises(NotFoundError, match="no model named 'other'"):
        registry.get("other")
    with pytest.raises(NotFoundError, match="no artifact"):
        registry.register("clf", "0" * 64)
    assert [v.version for v in registry.list()] == [1]
    assert registry.get("clf@production").version == 1


class Custom(BaseEstimator, ClassifierMixin):
    """A user's own estimator: its type is not on the trusted list."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Custom:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), dtype=int)


@cv.step
def custom_fit(n: int) -> Custom:
    return Custom().fit(np.zeros((n, 2)), np.arange(n) % 2)


@cv.pipeline
def custom(n: int = 4):
    return custom_fit(n)


def test_untrusted_model_types_need_explicit_trust(workspace: Workspace) -> None:
    run = custom.run(settings=workspace.settings)
    registry = ModelRegistry(workspace)
    registry.register("odd", run.output_ids["output"])
    with pytest.raises(UnsafeArtifactError, match="Custom"):
        cv.load_model("odd", settings=workspace.settings)
    assert isinstance(cv.load_model("odd", settings=workspace.settings, trust=True), Custom)


WORKER = """
import sys
from conveyor.config import Settings
from conveyor.registry import ModelRegistry
from conveyor.workspace import open_workspace
registry = ModelRegistry(open_workspace(Settings.load()))
print(",".join(str(registry.register("race", sys.argv[1]).version) for _ in range(5)))
"""


def test_concurrent_registrations_get_distinct_versions(
    workspace: Workspace, project: Path
) -> None:
    run = training.run(settings=workspace.settings)
    artifact = run.output_ids["model"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, artifact],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    versions = [int(v) for p in procs for v in p.communicate(timeout=120)[0].strip().split(",")]
    assert sorted(versions) == list(range(1, 21))


def cli(project: Path, *args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.run(
        [CONVEYOR, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == check, proc.stdout + proc.stderr
    return proc


def test_models_commands_and_lineage(workspace: Workspace, project: Path) -> None:
    registry = ModelRegistry(workspace)
    v1 = register_run(registry, workspace.settings, C=1.0, accuracy=0.9)
    register_run(registry, workspace.settings, C=0.2, accuracy=0.95)
    cli(project, "models", "promote", "clf", "1", "--alias", "production", "--reason", "first")
    out = cli(project, "models", "promote", "clf", "2", "--reason", "better").stdout
    assert "clf@production → version 2 (was 1)" in out
    listed = json.loads(cli(project, "models", "list", "--json").stdout)
    assert [(m["name"], m["version"], m["aliases"]) for m in listed] == [
        ("clf", 1, []),
        ("clf", 2, ["production"]),
    ]
    shown = json.loads(cli(project, "models", "show", "clf@production", "--json").stdout)
    assert shown["version"] == 2
    assert shown["metrics"] == {"accuracy": 0.95}
    assert shown["signature"]["x0"] == "float64"
    assert shown["lineage"]["pipeline"] == "training"
    assert [e["action"] for e in shown["history"]] == ["promote", "promote"]
    text = cli(project, "models", "show", "clf:1").stdout
    assert "metric accuracy = 0.9" in text
    assert "rolled" not in text
    cli(project, "models", "rollback", "clf", "--reason", "regression")
    assert (
        json.loads(cli(project, "models", "show", "clf@production", "--json").stdout)["version"]
        == 1
    )
    bad = cli(project, "models", "show", "clf@staging", check=2)
    assert "has no alias 'staging'" in bad.stderr
    bad = cli(project, "models", "promote", "clf", "9", check=2)
    assert "has no version 9" in bad.stderr
    lineage = json.loads(cli(project, "lineage", v1.artifact_id[:12], "--json").stdout)
    assert {"model": "clf", "version": 1, "role": "model", "aliases": ["production"]} in lineage[
        "models"
    ]
    data = json.loads(cli(project, "lineage", v1.data["x"][:12], "--json").stdout)
    assert {m["version"] for m in data["models"] if m["role"] == "x"} == {1, 2}  # its data key


def test_rollbacks_undo_promotions_in_turn_and_say_why_they_stop(workspace: Workspace) -> None:
    registry = ModelRegistry(workspace)
    for C in (1.0, 0.5):
        register_run(registry, workspace.settings, C=C, accuracy=0.9)
    for version in (1, 2, 1):
        registry.promote("clf", version, "production")
    assert registry.rollback("clf", "production").version == 2
    assert registry.rollback("clf", "production").version == 1
    with pytest.raises(RunStateError) as caught:
        registry.rollback("clf", "production")
    message = str(caught.value)
    assert "has pointed only" not in message  # it also held version 2
    assert "is at version 1, where it started" in message and "also held version 2" in message
    assert "nothing to roll back to" in message
    history = registry.history("clf", "production")
    assert [e.reason for e in history] == ["promoted by hand"] * 3 + ["rolled back by hand"] * 2
    registry.promote("clf", 2, "candidate", reason="try it")
    registry.promote("clf", 2, "candidate")  # again: not a state to roll back to
    with pytest.raises(RunStateError, match="has pointed only at version 2"):
        registry.rollback("clf", "candidate")


def test_bad_aliases_and_names_write_nothing(workspace: Workspace) -> None:
    from tests.registry.snapshot import registry_rows

    registry = ModelRegistry(workspace)
    register_run(registry, workspace.settings, C=1.0, accuracy=0.9)
    registry.promote("clf", 1, "production", reason="first")
    before = registry_rows(workspace.settings.db)
    for call, message in (
        (lambda: registry.promote("clf", 1, "bad alias"), "alias='bad alias' is not a valid"),
        (lambda: registry.promote("clf", 1, "production "), "alias='production ' is not a valid"),
        (lambda: registry.rollback("clf", "@prod"), "alias='@prod' is not a valid alias"),
        (lambda: registry.register("bad name!", "0" * 64), "name='bad name!' is not a valid"),
    ):
        with pytest.raises(ParameterError, match=re.escape(message)):
            call()
    assert registry_rows(workspace.settings.db) == before


def test_a_signature_keeps_the_order_of_its_inputs(workspace: Workspace) -> None:
    registry = ModelRegistry(workspace)
    run = training.run(settings=workspace.settings)
    order = {"zeta": "float", "alpha": "int", "mid": "category"}
    registry.register("ordered", run.output_ids["model"], signature={"inputs": order})
    assert list(registry.get("ordered").signature["inputs"]) == ["zeta", "alpha", "mid"]


def test_not_found_exits_2_like_every_command_and_lineage_takes_a_model_name(
    workspace: Workspace, project: Path
) -> None:
    registry = ModelRegistry(workspace)
    v1 = register_run(registry, workspace.settings, C=1.0, accuracy=0.9)
    registry.promote("clf", 1, "production")
    for args, message in (
        (("runs", "show", "ffff0000"), "no run with id"),  # the reference: not found is usage
        (("artifacts", "show", "ffff0000"), "no artifact with id"),
        (("models", "show", "nope"), "no model named 'nope'"),
        (("models", "show", "clf:7"), "has no version 7"),
        (("models", "promote", "clf", "7"), "has no version 7"),
        (("models", "rollback", "clf", "--alias", "staging"), "has no alias 'staging'"),
        (("models", "promote", "clf", "1", "--alias", "bad alias"), "alias='bad alias'"),
        (("lineage", "nope"), "no model named 'nope'"),
        (("lineage", "ffff0000"), "no artifact with id 'ffff0000'"),
        (("lineage", "what?"), "neither an artifact id nor a model reference"),
    ):
        failed = cli(project, *args, check=2)
        assert message in failed.stderr, (args, failed.stderr)
    by_name = json.loads(cli(project, "lineage", "clf", "--json").stdout)  # a bare name: latest
    assert by_name["artifact"] == v1.artifact_id
    assert {"model": "clf", "version": 1, "role": "model", "aliases": ["production"]} in by_name[
        "models"
    ]
    text = cli(project, "lineage", "clf@production").stdout  # captured: whole ids, no wrapping
    assert (
        text.splitlines()[0]
        == f"{v1.artifact_id} {workspace.metadata.get_artifact(v1.artifact_id).type_name}"
    )
    run = workspace.metadata.get_run(v1.run_id)
    commit = run.git_commit or "no commit"
    fit_line = next(line for line in text.splitlines() if "step fit" in line)
    assert fit_line.startswith(f"│   └── step fit (run {v1.run_id}, code ")
    assert fit_line.endswith(f"test_registry.fit @ {commit})")
    assert f"x: {v1.data['x']}" in text
    shown = cli(project, "models", "show", "clf").stdout
    assert f"model artifact {v1.artifact_id}" in shown
    assert "promote @production → 1 by " in shown and ": promoted by hand" in shown


def test_promoting_the_version_an_alias_already_holds_records_nothing(
    workspace: Workspace, project: Path
) -> None:
    from tests.registry.snapshot import registry_rows

    registry = ModelRegistry(workspace)
    register_run(registry, workspace.settings, C=1.0, accuracy=0.9)
    first = registry.promote("clf", 1, "production", reason="first")
    before = registry_rows(workspace.settings.db)
    assert registry.promote("clf", 1, "production", reason="again") == first  # the move it made
    assert registry_rows(workspace.settings.db) == before
    out = cli(project, "models", "promote", "clf", "1").stdout
    assert out.strip() == "clf@production is already version 1; nothing recorded"
    assert registry_rows(workspace.settings.db) == before
    assert [e.reason for e in registry.history("clf")] == ["first"]


def test_models_commands_in_a_folder_without_a_store_create_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    listed = cli(empty, "models", "list")
    assert listed.stdout.startswith("no project store here: ")
    assert str(empty / ".conveyor" / "conveyor.db") in listed.stdout.replace("\n", "")
    assert json.loads(cli(empty, "models", "list", "--json").stdout) == []
    for args in (("show", "clf"), ("promote", "clf", "1"), ("rollback", "clf")):
        failed = cli(empty, "models", *args, check=2)
        assert "no project store here" in failed.stderr, failed.stderr
    assert list(empty.iterdir()) == []  # no .conveyor/, no database
