"""`split`: train/test splits that are seeded and recorded: random, stratified, group, time."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from conveyor.components._frames import require_columns, require_frame
from conveyor.components._runtime import UNKNOWN
from conveyor.core.context import log_metric
from conveyor.core.context import seed as run_seed
from conveyor.core.step import step
from conveyor.exceptions import ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["split", "split_frame"]

METHODS = ("random", "stratified", "group", "time")


def _check(data: pd.DataFrame, method: str, test_size: float, by: str | None) -> None:
    require_frame(data, "split", "data")
    if method not in METHODS:
        raise ParameterError(f"split: method must be one of {list(METHODS)}, got {method!r}")
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
        raise ParameterError(f"split: test_size must be a number, got {test_size!r}")
    if not 0 < test_size < 1:
        raise ParameterError(f"split: test_size must be a fraction in (0, 1), got {test_size}")
    if method != "random":
        if by is None:
            raise ParameterError(f"split: method={method!r} needs by= (a column name)")
        require_columns(data, [by], "split", "by")
        if data[by].isna().any():
            raise ParameterError(f"split: column {by!r} (by=) has missing values")
    if len(data) < 2:
        raise ParameterError(f"split: needs at least 2 rows, the data has {len(data)}")


def split_frame(
    data: pd.DataFrame,
    method: str = "random",
    test_size: float = 0.2,
    by: str | None = None,
    seed: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `data` into (train, test); see `split`."""
    _check(data, method, test_size, by)
    state = run_seed() if seed is None else seed
    if method == "time":  # the latest rows are the test set; equal times stay together
        ordered = data.sort_values(by, kind="stable")
        cutoff = ordered[by].iloc[min(len(data) - 1, math.floor(len(data) * (1 - test_size)))]
        test_mask = data[by] >= cutoff
        if test_mask.all():
            raise ParameterError(f"split: column {by!r} has too few distinct times to split")
        return data[~test_mask], data[test_mask]
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    try:
        if method == "group":
            splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=state)
            train_idx, test_idx = next(splitter.split(data, groups=data[by]))
            return data.iloc[train_idx], data.iloc[test_idx]
        stratify = data[by] if method == "stratified" else None
        train, test = train_test_split(
            data, test_size=test_size, random_state=state, stratify=stratify
        )
    except ValueError as err:  # e.g. a class with a single member cannot be stratified
        raise ParameterError(f"split: cannot split by {by!r} ({method}): {err}") from None
    return train, test


def check_arguments(
    method: Any = UNKNOWN, test_size: Any = UNKNOWN, by: Any = UNKNOWN, **_: Any
) -> None:
    """split's arguments, checked when the pipeline is traced."""
    if method is not UNKNOWN and method not in METHODS:
        raise ParameterError(f"method={method!r} must be one of {list(METHODS)}")
    if test_size is not UNKNOWN and (
        isinstance(test_size, bool)
        or not isinstance(test_size, (int, float))
        or not 0 < test_size < 1
    ):
        raise ParameterError(f"test_size={test_size!r} must be a fraction in (0, 1)")
    if by is not UNKNOWN and by is not None and not isinstance(by, str):
        raise ParameterError(f"by={by!r} must be a column name")
    if method not in (UNKNOWN, "random") and by is None:
        raise ParameterError(f"method={method!r} needs by= (a column name)")


@step(outputs=("train", "test"), check=check_arguments)
def split(
    data: pd.DataFrame,
    method: str = "random",
    test_size: float = 0.2,
    by: str | None = None,
    seed: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into train and test sets.

    `method`: "random"; "stratified" keeps the proportions of column `by`; "group" keeps all rows
    of a value of `by` on one side; "time" puts the latest `test_size` of rows (by column `by`) in
    the test set. `seed` defaults to the step's run seed, so a re-run gives the same split.
    """
    train, test = split_frame(data, method, test_size, by, seed)
    log_metric("train_rows", len(train))
    log_metric("test_rows", len(test))
    return train, test
