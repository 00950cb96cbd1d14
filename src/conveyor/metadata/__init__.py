"""Facts: runs, step runs, artifacts, lineage, metrics and params, in SQLite or PostgreSQL."""
