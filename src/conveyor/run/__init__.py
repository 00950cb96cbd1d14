"""Execution: plan a run, resolve the cache, hand steps to an executor, record what happened."""
