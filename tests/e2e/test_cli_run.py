"""End to end: `conveyor run` on a temporary project, through the real CLI and stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

FLOW = """
import conveyor as cv

@cv.step
def numbers(n: int) -> list:
    print(f"making {n} numbers")
    return list(range(n))

@cv.step
def scale(values: list, factor: float = 1.0) -> list:
    return [v * factor for v in values]

@cv.step
def offset(values: list, by: int = 0) -> list:
    return [v + by for v in values]

@cv.step
def total(a: list, b: list) -> float:
    cv.log_metric("total", sum(a) + sum(b))
    return float(sum(a) + sum(b))

@cv.pipeline
def flow(n: int = 5, factor: float = 2.0, by: int = 1):
    values = numbers(n)
    return total(scale(values, factor), offset(values, by))
"""


def steps_by_name(result: dict) -> dict[str, dict]:
    return {s["name"]: s for s in result["steps"]}


def test_run_json_shape_and_outputs(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    result = cli.json("run", "flow.py:flow", "-p", "n=4")
    assert set(result) >= {
        "run_id",
        "pipeline",
        "status",
        "params",
        "duration_s",
        "steps",
        "outputs",
    }
    assert result["status"] == "succeeded"
    assert result["pipeline"] == "flow"
    assert result["params"] == {"n": 4, "factor": 2.0, "by": 1}
    assert [s["name"] for s in result["steps"]] == ["numbers", "scale", "offset", "total"]
    for step in result["steps"]:
        assert set(step) >= {"name", "status", "cached", "duration_s", "outputs"}
        assert step["status"] == "succeeded" and step["cached"] is False
        assert len(step["outputs"]["output"]) == 64
    assert result["outputs"] == {"output": result["steps"][-1]["outputs"]["output"]}
    shown = cli.json("artifacts", "show", result["outputs"]["output"][:10])
    assert shown["summary"]["value"] == (0 + 2 + 4 + 6) + (1 + 2 + 3 + 4)


def test_second_run_is_fully_cached_and_param_change_reruns_dependents(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    first = cli.json("run", "flow.py:flow")
    second = cli.json("run", "flow.py:flow")
    assert all(s["cached"] for s in second["steps"])
    assert second["outputs"] == first["outputs"]
    third = steps_by_name(cli.json("run", "flow.py:flow", "-p", "by=5"))
    assert third["numbers"]["cached"] and third["scale"]["cached"]
    assert not third["offset"]["cached"] and not third["total"]["cached"]
    forced = cli.json("run", "flow.py:flow", "--no-cache")
    assert not any(s["cached"] for s in forced["steps"])
    assert forced["outputs"] == first["outputs"]  # same content, same id


def test_editing_a_step_reruns_it_and_downstream_only(cli: Cli) -> None:
    path = cli.write("flow.py", FLOW)
    cli.json("run", "flow.py:flow")
    # a comment or docstring change is not a code change
    path.write_text(
        FLOW.replace(
            "def scale(values: list, factor: float = 1.0) -> list:",
            "def scale(values: list, factor: float = 1.0) -> list:\n    # tidy",
        )
    )
    assert all(s["cached"] for s in cli.json("run", "flow.py:flow")["steps"])
    path.write_text(
        FLOW.replace(
            "return [v * factor for v in values]", "return [v * factor * 10 for v in values]"
        )
    )
    steps = steps_by_name(cli.json("run", "flow.py:flow"))
    assert steps["numbers"]["cached"] and steps["offset"]["cached"]
    assert not steps["scale"]["cached"] and not steps["total"]["cached"]


def test_params_from_files_and_command_line_precedence(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    cli.write("p.yaml", "n: 3\nfactor: 0.5\n")
    cli.write("p.toml", "n = 3\nby = 7\n")
    cli.write("p.json", json.dumps({"n": 2}))
    assert cli.json("run", "flow.py:flow", "--params", "p.yaml")["params"]["factor"] == 0.5
    assert cli.json("run", "flow.py:flow", "--params", "p.toml")["params"]["by"] == 7
    result = cli.json("run", "flow.py:flow", "--params", "p.json", "-p", "n=6")
    assert result["params"]["n"] == 6


def test_plain_output_when_not_a_terminal(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    proc = cli("run", "flow.py:flow")
    assert "making 5 numbers" in proc.stdout  # the step's own print is shown
    assert "numbers" in proc.stdout and "succeeded" in proc.stdout
    assert "\x1b[" not in proc.stdout  # no terminal escapes in a pipe
    again = cli("run", "flow.py")  # the only pipeline in the file may be left unnamed
    assert "cached" in again.stdout


FAILING = """
import conveyor as cv

@cv.step
def ok(x: int) -> int:
    return x + 1

@cv.step
def broken(x: int) -> int:
    print("about to fail")
    raise ValueError(f"bad value {x}\\nsecond line")

@cv.step
def after(x: int) -> int:
    return x

@cv.step
def side(x: int) -> int:
    return x * 100

@cv.pipeline
def failing(x: int = 1):
    a = ok(x)
    return {"main": after(broken(a)), "side": side(a)}
"""


def test_failure_exit_code_message_and_resume_through_cache(cli: Cli) -> None:
    path = cli.write("failing.py", FAILING)
    proc = cli("run", "failing.py:failing", check=1)
    assert "broken" in proc.stderr
    assert "ValueError: bad value 2" in proc.stderr
    assert "second line" not in proc.stderr
    result = cli.json("runs", "show", "latest")
    steps = {s["name"]: s for s in result["steps"]}
    assert result["status"] == "failed"
    assert steps["ok"]["status"] == "succeeded"
    assert steps["side"]["status"] == "succeeded"  # an independent branch still ran
    assert steps["broken"]["status"] == "failed"
    assert steps["broken"]["error_type"] == "ValueError"
    assert "raise ValueError" in steps["broken"]["traceback"]
    assert steps["broken"]["stdout"] == "about to fail\n"
    assert steps["after"]["status"] == "skipped"
    shown = cli("runs", "show", result["run_id"][:8])
    assert "raise ValueError" in shown.stdout and "about to fail" in shown.stdout
    # fix the step: the next run reuses what completed
    path.write_text(FAILING.replace('raise ValueError(f"bad value {x}\\nsecond line")', "return x"))
    fixed = steps_by_name(cli.json("run", "failing.py:failing"))
    assert fixed["ok"]["cached"] and fixed["side"]["cached"]
    assert fixed["broken"]["status"] == "succeeded" and not fixed["broken"]["cached"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "flow.py:flow", "-p", "nope=1"], "unknown parameter(s) ['nope']"),
        (["run", "flow.py:flow", "-p", "n=abc"], "parameter 'n': expected int"),
        (["run", "flow.py:flow", "-p", "broken"], "expected key=value"),
        (["run", "flow.py:nothing"], "no pipeline named 'nothing'"),
        (["run", "missing.py:flow"], "missing.py: no such file"),
        (["run", "flow.py:flow", "--params", "absent.yaml"], "absent.yaml: no such file"),
        (["run", "wrong_output.py:wrong"], "has no output 'trian'"),
        (["run", "required.py:required"], "missing required parameter(s) ['path']"),
        (["run", "bad_literal.py:bad"], "step 'scale' argument 'factor': expected float"),
        (
            ["run", "bad_literal.py:picky", "-p", "kind=z"],
            "picky' raised while its graph was built",
        ),
        (["run", "flow.py:flow", "--run-id", "xyz"], "run id 'xyz': expected 32 hex digits"),
        (["runs", "show", "ffffffffff"], "no run with id"),
        (["artifacts", "show", "00000000"], "no artifact with id"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_what_is_wrong(
    cli: Cli, args: list[str], expected: str
) -> None:
    cli.write("flow.py", FLOW)
    cli.write(
        "wrong_output.py",
        """
        import conveyor as cv

        @cv.step(outputs=("train", "test"))
        def split(n: int):
            return [1], [2]

        @cv.step
        def use(x: list) -> int:
            return len(x)

        @cv.pipeline
        def wrong():
            return use(split(3).trian)
        """,
    )
    cli.write(
        "required.py",
        """
        import conveyor as cv

        @cv.step
        def read(path: str) -> str:
            return path

        @cv.pipeline
        def required(path: str):
            return read(path)
        """,
    )
    cli.write(
        "bad_literal.py",
        """
        import conveyor as cv

        @cv.step
        def scale(x: int, factor: float) -> float:
            return x * factor

        @cv.pipeline
        def bad():
            return scale(1, factor="lots")

        @cv.pipeline
        def picky(kind: str = "a"):
            if kind != "a":
                raise ValueError("kind must be 'a'")
            return scale(1, factor=2.0)
        """,
    )
    proc = cli(*args, check=2)
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (Path(cli.root) / ".conveyor" / "conveyor.db").exists() or args[0] != "run"


def test_a_launcher_chooses_the_run_id_once(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    chosen = "0123456789abcdef0123456789abcdef"
    assert cli.json("run", "flow.py:flow", "--run-id", chosen)["run_id"] == chosen
    again = cli("run", "flow.py:flow", "--run-id", chosen, check=2)
    assert f"a run with id {chosen} exists already" in again.stderr
    assert [r["run_id"] for r in cli.json("runs", "list")] == [chosen]


def test_runs_list_and_show(cli: Cli) -> None:
    cli.write("flow.py", FLOW)
    first = cli.json("run", "flow.py:flow")
    second = cli.json("run", "flow.py:flow", "-p", "n=2")
    listed = cli.json("runs", "list")
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]
    assert cli.json("runs", "list", "--limit", "1")[0]["run_id"] == second["run_id"]
    assert cli.json("runs", "list", "--pipeline", "other") == []
    shown = cli.json("runs", "show", first["run_id"][:12])
    assert shown["params"]["n"] == 5
    assert shown["python_version"]
    assert shown["metrics"] == [{"step": "total", "name": "total", "value": 35.0, "index": None}]
    table = cli("runs", "list").stdout
    assert first["run_id"][:12] in table and "flow" in table


def test_runs_show_prints_names_that_look_like_markup_as_they_are(cli: Cli) -> None:
    cli.write(
        "sliced.py",
        """
import conveyor as cv

@cv.step
def score() -> float:
    cv.log_metric("accuracy[island=Biscoe]", 0.5)
    cv.log_metric("[bold]loss", 0.25)
    return 0.5

@cv.pipeline
def sliced():
    return score()
""",
    )
    run = cli.json("run", "sliced.py:sliced")
    shown = cli("runs", "show", run["run_id"]).stdout
    assert "accuracy[island=Biscoe]" in shown
    assert "[bold]loss" in shown


def test_artifact_preview_and_lineage(cli: Cli) -> None:
    cli.write(
        "frames.py",
        """
        import numpy as np
        import pandas as pd
        import conveyor as cv

        @cv.step
        def frame(n: int) -> pd.DataFrame:
            return pd.DataFrame({"a": range(n), "kind": pd.Categorical(["x", "y"] * (n // 2))})

        @cv.step
        def matrix(df: pd.DataFrame) -> np.ndarray:
            return np.ones((len(df), 3))

        @cv.step
        def summary(m: np.ndarray) -> dict:
            return {"rows": int(m.shape[0])}

        @cv.pipeline
        def frames(n: int = 6):
            df = frame(n)
            return {"df": df, "summary": summary(matrix(df))}
        """,
    )
    run = cli.json("run", "frames.py:frames")
    steps = steps_by_name(run)
    df_id = run["outputs"]["df"]
    shown = cli.json("artifacts", "show", df_id[:12])
    assert shown["type_name"] == "pandas.DataFrame" or shown["type_name"].endswith("DataFrame")
    assert shown["materializer"] == "pandas.parquet"
    assert shown["summary"]["shape"] == [6, 2]
    assert shown["summary"]["dtypes"] == {"a": "int64", "kind": "category"}
    assert shown["producer"]["step"] == "frame"
    text = cli("artifacts", "show", df_id[:12]).stdout
    assert "kind" in text and "category" in text
    array = cli.json("artifacts", "show", steps["matrix"]["outputs"]["output"])
    assert array["summary"]["shape"] == [6, 3]
    assert cli.json("artifacts", "show", run["outputs"]["summary"])["summary"]["value"] == {
        "rows": 6
    }
    lineage = cli.json("lineage", steps["matrix"]["outputs"]["output"][:12])
    assert lineage["upstream"][0]["step"] == "matrix"
    assert lineage["upstream"][0]["inputs"][0]["artifact"] == df_id
    assert lineage["upstream"][0]["inputs"][0]["upstream"][0]["step"] == "frame"
    assert lineage["downstream"][0]["step"] == "summary"
    tree = cli("lineage", df_id[:12]).stdout
    assert "matrix" in tree and "summary" in tree


def test_version_and_help_everywhere(cli: Cli) -> None:
    assert cli("--version").stdout.startswith("conveyor ")
    for args in (
        ["--help"],
        ["run", "--help"],
        ["runs", "--help"],
        ["runs", "list", "--help"],
        ["runs", "show", "--help"],
        ["artifacts", "show", "--help"],
        ["lineage", "--help"],
        ["db", "upgrade", "--help"],
    ):
        text = cli(*args).stdout
        assert "Usage" in text
        if args != ["runs", "--help"]:
            assert "Example" in text or "conveyor run" in text, args


def test_every_listed_command_loads_with_its_help() -> None:
    """Commands are built lazily, by name: a wrong name in the table would only show when used."""
    from conveyor.cli.app import COMMANDS, load_command

    for name in COMMANDS:
        command = load_command(name)
        assert command.name == name
        assert command.help, name
        for sub in getattr(command, "commands", {}).values():
            assert sub.help, f"{name} {sub.name}"


QUICK_VERSION = """
import sys
from conveyor.cli.app import COMMANDS, app
try:
    app(["--version"])
except SystemExit as done:
    assert not done.code, done.code
modules = {f"conveyor.cli.{command.module}" for command in COMMANDS.values()}
print("LOADED", sorted(modules & set(sys.modules)))
"""


def test_a_command_builds_only_itself() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", QUICK_VERSION], capture_output=True, text=True, check=True
    )
    assert "LOADED []" in done.stdout


def test_live_progress_in_a_terminal_shows_steps_and_step_output(cli: Cli) -> None:
    """Under a pseudo-terminal the live table renders and the step's prints pass through it."""
    import os
    import pty
    import subprocess

    from tests.e2e.conftest import CONVEYOR

    cli.write("flow.py", FLOW)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.Popen(
        [CONVEYOR, "run", "flow.py:flow"], cwd=cli.root, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 0
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert "making 5 numbers" in screen
    assert "pending" in screen or "running" in screen  # the live table was drawn
    assert "succeeded" in screen
    assert "4 steps, 4 executed, 0 cached" in screen


def test_many_runs_in_one_process_do_not_leak_database_connections(tmp_path: Path) -> None:
    """Each run's recorder thread returns its connection: 40 runs exceed the pool's 15."""
    import conveyor as cv
    from conveyor.config import Settings
    from conveyor.workspace import close_workspaces

    @cv.step(cache=False)
    def one(x: int) -> int:
        return x

    @cv.pipeline
    def tiny(x: int = 1):
        return one(x)

    settings = Settings.load(tmp_path)
    try:
        for i in range(40):
            assert tiny.run(x=i, settings=settings).status == "succeeded"
    finally:
        close_workspaces()


FAST_LIST = """
import sys
from conveyor.cli.app import app
try:
    app(["runs", "list", "--limit", "3"])
except SystemExit as done:
    assert not done.code, done.code
heavy = sorted(m for m in ("sqlalchemy", "pydantic", "pandas", "alembic") if m in sys.modules)
print("HEAVY", heavy)
"""


def test_runs_list_on_the_embedded_store_imports_no_heavy_library(cli: Cli) -> None:
    """The most typed command stays fast: no SQLAlchemy, pydantic or pandas on its path."""
    import os
    import subprocess
    import sys

    cli.write("flow.py", FLOW)
    run = cli.json("run", "flow.py:flow")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    done = subprocess.run(
        [sys.executable, "-c", FAST_LIST],
        cwd=cli.root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run["run_id"][:12] in done.stdout
    assert "HEAVY []" in done.stdout
