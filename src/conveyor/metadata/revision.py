"""The schema revision this Conveyor expects, importable without SQLAlchemy (for `fastread`).

A test checks it equals the head of the Alembic migrations.
"""

SCHEMA_REVISION = "0007"
