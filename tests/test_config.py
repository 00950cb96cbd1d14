"""Settings: defaults < conveyor.toml (nearest, walking up) < CONVEYOR_* < arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import Settings, find_config
from conveyor.exceptions import ConfigError


@pytest.fixture
def nested(project: Path) -> Path:
    """A subdirectory two levels below the project root (where conveyor.toml goes)."""
    sub = project / "notebooks" / "experiments"
    sub.mkdir(parents=True)
    return sub


def _toml(root: Path, body: str) -> Path:
    path = root / "conveyor.toml"
    path.write_text(body)
    return path


def test_defaults_live_under_dot_conveyor(project: Path) -> None:
    settings = Settings.load(project)
    assert settings.root == project.resolve()
    assert settings.db == f"sqlite:///{project.resolve() / '.conveyor' / 'conveyor.db'}"
    assert settings.artifacts == str(project.resolve() / ".conveyor" / "artifacts")
    assert settings.trust_pickle is False


def test_defaults_use_the_working_directory(project: Path) -> None:
    assert Settings.load() == Settings.load(project)


def test_toml_is_found_walking_up_and_sets_the_root(project: Path, nested: Path) -> None:
    path = _toml(project, '[conveyor]\nartifacts = "store"\ntrust_pickle = true\n')
    assert find_config(nested) == path
    settings = Settings.load(nested)
    assert settings.root == project.resolve()
    assert settings.db == f"sqlite:///{project.resolve() / '.conveyor' / 'conveyor.db'}"
    assert settings.trust_pickle is True


def test_relative_paths_in_toml_are_relative_to_the_file(project: Path, nested: Path) -> None:
    _toml(project, '[conveyor]\ndb = "sqlite:///meta/conveyor.db"\nartifacts = "data/store"\n')
    settings = Settings.load(nested)
    assert settings.db == f"sqlite:///{project.resolve() / 'meta' / 'conveyor.db'}"
    assert settings.artifacts == str(project.resolve() / "data" / "store")


def test_absolute_paths_and_urls_are_kept(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    _toml(
        project,
        f'[conveyor]\ndb = "sqlite:///{elsewhere}"\nartifacts = "s3://bucket/conveyor"\n',
    )
    settings = Settings.load(project)
    assert settings.db == f"sqlite:///{elsewhere}"
    assert settings.artifacts == "s3://bucket/conveyor"


def test_the_nearest_toml_wins(project: Path, nested: Path) -> None:
    _toml(project, '[conveyor]\nartifacts = "outer"\n')
    _toml(nested.parent, '[conveyor]\nartifacts = "inner"\n')
    settings = Settings.load(nested)
    assert settings.root == nested.parent.resolve()
    assert settings.artifacts == str(nested.parent.resolve() / "inner")


def test_top_level_keys_work_without_a_section(project: Path) -> None:
    _toml(project, 'artifacts = "store"\n')
    assert Settings.load(project).artifacts == str(project.resolve() / "store")


def test_environment_overrides_toml(
    project: Path, nested: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _toml(project, '[conveyor]\ndb = "sqlite:///from-toml.db"\ntrust_pickle = true\n')
    monkeypatch.setenv("CONVEYOR_DB", "postgresql+psycopg://user@db/conveyor")
    monkeypatch.setenv("CONVEYOR_ARTIFACTS", "memory://env-store")
    monkeypatch.setenv("CONVEYOR_TRUST_PICKLE", "no")
    settings = Settings.load(nested)
    assert settings.db == "postgresql+psycopg://user@db/conveyor"
    assert settings.artifacts == "memory://env-store"
    assert settings.trust_pickle is False


def test_empty_environment_variables_are_ignored(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _toml(project, '[conveyor]\nartifacts = "store"\n')
    monkeypatch.setenv("CONVEYOR_ARTIFACTS", "")
    assert Settings.load(project).artifacts == str(project.resolve() / "store")


def test_arguments_override_everything(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _toml(project, '[conveyor]\ndb = "sqlite:///from-toml.db"\nartifacts = "toml-store"\n')
    monkeypatch.setenv("CONVEYOR_DB", "sqlite:///from-env.db")
    monkeypatch.setenv("CONVEYOR_TRUST_PICKLE", "true")
    settings = Settings.load(
        project, db="sqlite:///from-args.db", artifacts="memory://args", trust_pickle=False
    )
    assert settings.db == f"sqlite:///{project.resolve() / 'from-args.db'}"
    assert settings.artifacts == "memory://args"
    assert settings.trust_pickle is False


def test_none_arguments_do_not_override(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_DB", "sqlite:///from-env.db")
    assert Settings.load(project, db=None).db == f"sqlite:///{project.resolve() / 'from-env.db'}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("off", False)],
)
def test_trust_pickle_from_the_environment(
    project: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: bool
) -> None:
    monkeypatch.setenv("CONVEYOR_TRUST_PICKLE", text)
    assert Settings.load(project).trust_pickle is expected


def test_a_bad_boolean_names_the_setting(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_TRUST_PICKLE", "maybe")
    with pytest.raises(ConfigError, match="trust_pickle"):
        Settings.load(project)


def test_bad_toml_names_the_file(project: Path, nested: Path) -> None:
    path = _toml(project, "[conveyor\ndb = \n")
    with pytest.raises(ConfigError) as err:
        Settings.load(nested)
    assert str(path) in str(err.value)


def test_unknown_keys_name_the_file_and_the_key(project: Path) -> None:
    path = _toml(project, '[conveyor]\ndb = "sqlite:///x.db"\nartefacts = "typo"\n')
    with pytest.raises(ConfigError) as err:
        Settings.load(project)
    assert str(path) in str(err.value)
    assert "artefacts" in str(err.value)


def test_a_non_table_section_names_the_file(project: Path) -> None:
    path = _toml(project, 'conveyor = "not a table"\n')
    with pytest.raises(ConfigError) as err:
        Settings.load(project)
    assert str(path) in str(err.value)


def test_a_bad_value_type_in_toml_names_the_file(project: Path) -> None:
    path = _toml(project, '[conveyor]\ntrust_pickle = "perhaps"\n')
    with pytest.raises(ConfigError) as err:
        Settings.load(project)
    assert str(path) in str(err.value)


def test_unknown_arguments_are_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="bogus"):
        Settings.load(project, bogus=1)


def test_settings_are_frozen_values(project: Path) -> None:
    settings = Settings.load(project)
    assert settings == Settings.load(project)
    with pytest.raises(AttributeError):
        settings.db = "other"  # type: ignore[misc]
