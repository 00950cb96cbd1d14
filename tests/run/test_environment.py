"""The code state a run records: HEAD read from .git (loose, packed, detached, worktree)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conveyor.run.environment import git_state, installed_packages, known_git_state

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    (path / "flow.py").write_text("x = 1\n")
    git(path, "add", "flow.py")
    git(path, "commit", "-qm", "one")
    return path


def test_head_from_loose_and_packed_refs_and_detached(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    source = repo / "flow.py"
    head = git(repo, "rev-parse", "HEAD")
    assert git_state(source) == (head, None)
    git(repo, "pack-refs", "--all")
    assert git_state(source) == (head, None)
    git(repo, "checkout", "-q", "--detach")
    assert git_state(source) == (head, None)


def test_uncommitted_and_untracked_changes_are_hashed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    source = repo / "flow.py"
    source.write_text("x = 2\n")
    commit, dirty = git_state(source)
    assert commit == git(repo, "rev-parse", "HEAD")
    assert dirty is not None
    fresh = repo / "new_flow.py"
    fresh.write_text("y = 1\n")
    git(repo, "checkout", "-q", "flow.py")
    assert git_state(fresh)[1] is not None  # an untracked pipeline file counts as a change
    assert git_state(source)[1] is None


def test_worktree_and_outside_any_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    assert git_state(tmp_path / "wt" / "flow.py")[0] == git(repo, "rev-parse", "HEAD")
    outside = tmp_path / "plain"
    outside.mkdir()
    assert git_state(outside) == (None, None)


def test_installed_packages_include_this_environment() -> None:
    packages = installed_packages()
    assert "sqlalchemy" in packages
    assert "conveyor" in packages


def test_a_known_code_state_is_answered_without_git_until_something_git_reads_changes(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    source = repo / "flow.py"
    head = git(repo, "rev-parse", "HEAD")
    assert known_git_state(tmp_path) == (None, None)  # outside a repository: nothing to ask
    assert known_git_state(source) is None  # never asked in this state
    assert git_state(source) == (head, None)
    assert known_git_state(source) == (head, None)

    source.write_text("x = 3\n")  # the watched file changes
    assert known_git_state(source) is None
    dirty = git_state(source)
    assert dirty[1] is not None
    assert known_git_state(source) == dirty

    git(repo, "add", "flow.py")  # the index changes
    assert known_git_state(source) is None
    git(repo, "commit", "-qm", "two")  # HEAD moves
    assert known_git_state(source) is None
    assert git_state(source) == (git(repo, "rev-parse", "HEAD"), None)

    fresh = repo / "new_flow.py"
    fresh.write_text("y = 1\n")
    assert git_state(fresh)[1] is not None
    (repo / ".gitignore").write_text("new_flow.py\n")  # an ignore file above it changes
    assert known_git_state(fresh) is None
    assert git_state(fresh)[1] is None
