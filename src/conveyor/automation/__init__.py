"""Closing the loop: triggers that run pipelines by themselves, and the watcher that runs them.

    import conveyor as cv
    from conveyor.automation import Drift, Schedule, Trigger

    retrain = Trigger("retrain-on-drift", "pipeline.py:training",
                      Drift("penguins@production", threshold=0.3, window="500"),
                      params={"source": "data/latest.csv"}, cooldown_s=600)

`conveyor watch triggers.py` (or `[[triggers]]` in conveyor.toml) runs them.
"""

from conveyor.automation.config import from_python, from_toml, parse_trigger
from conveyor.automation.triggers import Drift, NewData, PerformanceDrop, Schedule, Trigger
from conveyor.automation.watcher import Watcher

__all__ = [
    "Drift",
    "NewData",
    "PerformanceDrop",
    "Schedule",
    "Trigger",
    "Watcher",
    "from_python",
    "from_toml",
    "parse_trigger",
]
