"""Drift, data quality and performance of served models, against their reference."""
