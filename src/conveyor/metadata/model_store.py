"""The registry's facts in SQL: model versions, aliases and alias history.

Version numbers are assigned inside the inserting transaction (max + 1, under the write lock on
SQLite, retried on a key clash on PostgreSQL), so concurrent registrations never share a number.
Every alias move writes the alias and its history row in one transaction. JSON columns keep the
order they were given in: a signature's inputs are in the order the model reads them.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import sqlalchemy as sa

from conveyor.exceptions import NotFoundError
from conveyor.metadata import schema as t
from conveyor.metadata.store import MetadataStore

__all__ = ["AliasEvent", "ModelStore", "ModelUse", "ModelVersionRecord"]

#: step params that say where ingested data came from (logged by `conveyor.components.ingest`)
SOURCE_PARAMS = ("source", "format", "content_hash", "query")


@dataclasses.dataclass(frozen=True)
class ModelVersionRecord:
    name: str
    version: int
    artifact_id: str
    run_id: str | None
    step_run_id: str | None
    metrics: dict[str, float]
    signature: dict[str, Any]
    evaluation: dict[str, Any]
    data: dict[str, str]
    description: str | None
    created_at: float
    created_by: str | None
    aliases: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class AliasEvent:
    name: str
    alias: str
    action: str
    version: int
    previous_version: int | None
    at: float
    by: str | None
    reason: str | None


@dataclasses.dataclass(frozen=True)
class ModelUse:
    """A model version that an artifact went into: as its model, its data, or upstream of them."""

    version: ModelVersionRecord
    role: str  # "model", the data keys ("train.data"), or "upstream of train.data, ..."


class ModelStore:
    """Registry reads and writes on a `MetadataStore`'s database."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def add_version(self, record: dict[str, Any], attempts: int = 5) -> int:
        """Insert a new version of `record["name"]`; returns the version number it got."""
        for _ in range(attempts):
            conn = self.store.write_conn
            try:
                with conn.begin():
                    current = conn.execute(
                        sa.select(sa.func.max(t.model_versions.c.version)).where(
                            t.model_versions.c.name == record["name"]
                        )
                    ).scalar()
                    version = (current or 0) + 1
                    row = {
                        **record,
                        "version": version,
                        "created_at": time.time(),
                        **{
                            k: json.dumps(record.get(k) or {}, default=str)
                            for k in ("metrics", "signature", "evaluation", "data")
                        },
                    }
                    conn.execute(t.model_versions.insert(), row)
                return version
            except sa.exc.IntegrityError:  # another writer took that number: take the next
                continue
        raise RuntimeError(f"could not allocate a version of model {record['name']!r}")

    def versions(self, name: str | None = None) -> list[ModelVersionRecord]:
        query = sa.select(t.model_versions).order_by(
            t.model_versions.c.name, t.model_versions.c.version
        )
        if name is not None:
            query = query.where(t.model_versions.c.name == name)
        aliases = self.aliases(name)
        return [_version(row, aliases) for row in self.store.conn.execute(query).all()]

    def version(self, name: str, version: int) -> ModelVersionRecord:
        row = self.store.conn.execute(
            sa.select(t.model_versions).where(
                t.model_versions.c.name == name, t.model_versions.c.version == version
            )
        ).first()
        if row is None:
            known = [v.version for v in self.versions(name)]
            raise NotFoundError(
                f"model {name!r} has no version {version}"
                + (f"; versions: {known}" if known else "; no such model is registered")
            )
        return _version(row, self.aliases(name))

    def aliases(self, name: str | None = None) -> dict[tuple[str, int], list[str]]:
        """(model, version) → aliases pointing at it."""
        query = sa.select(t.model_aliases)
        if name is not None:
            query = query.where(t.model_aliases.c.name == name)
        found: dict[tuple[str, int], list[str]] = {}
        for row in self.store.conn.execute(query).all():
            found.setdefault((row.name, row.version), []).append(row.alias)
        return found

    def alias_target(self, name: str, alias: str) -> int | None:
        return self.store.conn.execute(
            sa.select(t.model_aliases.c.version).where(
                t.model_aliases.c.name == name, t.model_aliases.c.alias == alias
            )
        ).scalar()

    def move_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        action: str,
        by: str | None,
        reason: str | None,
    ) -> int | None:
        """Point `alias` at `version` and record the move; returns the previous version.

        A move to the version the alias already points at writes nothing: there is no move to
        record (checked in the writing transaction, so concurrent movers agree).
        """
        conn = self.store.write_conn
        now = time.time()
        with conn.begin():
            previous = conn.execute(
                sa.select(t.model_aliases.c.version).where(
                    t.model_aliases.c.name == name, t.model_aliases.c.alias == alias
                )
            ).scalar()
            if previous == version:
                return previous
            values = {"version": version, "updated_at": now, "updated_by": by, "reason": reason}
            if previous is None:
                conn.execute(t.model_aliases.insert(), {"name": name, "alias": alias, **values})
            else:
                conn.execute(
                    t.model_aliases.update()
                    .where(t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)
                    .values(**values)
                )
            conn.execute(
                t.alias_events.insert(),
                {
                    "name": name,
                    "alias": alias,
                    "action": action,
                    "version": version,
                    "previous_version": previous,
                    "at": now,
                    "by": by,
                    "reason": reason,
                },
            )
        return previous

    def history(self, name: str, alias: str | None = None) -> list[AliasEvent]:
        query = (
            sa.select(t.alias_events)
            .where(t.alias_events.c.name == name)
            .order_by(t.alias_events.c.id)
        )
        if alias is not None:
            query = query.where(t.alias_events.c.alias == alias)
        return [
            AliasEvent(
                r.name, r.alias, r.action, r.version, r.previous_version, r.at, r.by, r.reason
            )
            for r in self.store.conn.execute(query).all()
        ]

    def set_reference(
        self, name: str, version: int, statistics: dict[str, Any], data_id: str | None
    ) -> None:
        """Store (or replace) the reference statistics monitoring compares a version with."""
        conn = self.store.write_conn
        with conn.begin():
            conn.execute(
                t.model_references.delete().where(
                    t.model_references.c.name == name, t.model_references.c.version == version
                )
            )
            conn.execute(
                t.model_references.insert(),
                {
                    "name": name,
                    "version": version,
                    "statistics": json.dumps(statistics, default=str),
                    "data_id": data_id,
                    "created_at": time.time(),
                },
            )

    def reference(self, name: str, version: int) -> tuple[dict[str, Any], str | None] | None:
        """The reference statistics of a version and the data artifact they describe."""
        row = self.store.conn.execute(
            sa.select(t.model_references).where(
                t.model_references.c.name == name, t.model_references.c.version == version
            )
        ).first()
        return None if row is None else (json.loads(row.statistics), row.data_id)

    def state(self, name: str) -> tuple[int, int]:
        """(newest version, alias moves so far) of model `name`: both only grow, so any
        registration or alias move changes it (part of `register`'s cache key)."""
        conn = self.store.conn
        newest = conn.execute(
            sa.select(sa.func.max(t.model_versions.c.version)).where(
                t.model_versions.c.name == name
            )
        ).scalar()
        moves = conn.execute(
            sa.select(sa.func.count()).where(t.alias_events.c.name == name)
        ).scalar()
        return int(newest or 0), int(moves or 0)

    def versions_of_artifact(self, artifact_id: str) -> list[ModelVersionRecord]:
        """Model versions whose model is this artifact, that were trained or evaluated on it, or
        on data derived from it (see `uses_of_artifact`)."""
        return [use.version for use in self.uses_of_artifact(artifact_id)]

    def uses_of_artifact(self, artifact_id: str) -> list[ModelUse]:
        """The model versions an artifact went into, following the lineage edges downstream:
        an ingested file finds the models trained on the splits of its validated rows."""
        below = self.descendants(artifact_id)
        aliases = self.aliases()
        uses = []
        for row in self.store.conn.execute(
            sa.select(t.model_versions).order_by(
                t.model_versions.c.name, t.model_versions.c.version
            )
        ).all():
            data: dict[str, str] = json.loads(row.data)
            if row.artifact_id == artifact_id:
                role = "model"
            elif artifact_id in data.values():
                role = ", ".join(k for k, a in data.items() if a == artifact_id)
            else:
                derived = [k for k, a in data.items() if a in below]
                if not derived and row.artifact_id not in below:
                    continue
                role = "upstream of " + (", ".join(derived) or "model")
            uses.append(ModelUse(_version(row, aliases), role))
        return uses

    def descendants(self, artifact_id: str, limit: int = 100_000) -> set[str]:
        """Every artifact computed from `artifact_id`, through any step run that read it."""
        lin = t.lineage.c
        seen: set[str] = set()
        frontier = {artifact_id}
        while frontier and len(seen) < limit:
            readers = sa.select(lin.step_run_id).where(
                lin.direction == "in", lin.artifact_id.in_(sorted(frontier))
            )
            rows = self.store.conn.execute(
                sa.select(lin.artifact_id)
                .where(lin.direction == "out", lin.step_run_id.in_(readers))
                .distinct()
            ).all()
            found = {r[0] for r in rows} - seen - {artifact_id}
            seen |= found
            frontier = found
        return seen

    def sources(self, artifact_ids: list[str], limit: int = 100_000) -> list[dict[str, Any]]:
        """Where the data behind `artifact_ids` came from: the source URI, format, content hash
        (and query) logged by each step upstream that read a source (`ingest`), with the
        artifact it produced; the same source read by several runs is listed once."""
        lin = t.lineage.c
        params = t.step_params.c
        seen = set(artifact_ids)
        frontier = set(artifact_ids)
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        while frontier and len(seen) < limit:
            producers = self.store.conn.execute(
                sa.select(lin.step_run_id, lin.artifact_id).where(
                    lin.direction == "out", lin.artifact_id.in_(sorted(frontier))
                )
            ).all()
            produced = {r.step_run_id: r.artifact_id for r in producers}
            if not produced:
                break
            logged: dict[str, dict[str, Any]] = {}
            for row in self.store.conn.execute(
                sa.select(params.step_run_id, params.name, params.value).where(
                    params.step_run_id.in_(sorted(produced)), params.name.in_(SOURCE_PARAMS)
                )
            ).all():
                logged.setdefault(row.step_run_id, {})[row.name] = json.loads(row.value)
            for step_run_id, values in logged.items():
                if "source" in values:
                    entry = {k: values.get(k) for k in SOURCE_PARAMS if k in values}
                    key = tuple(sorted(entry.items()))
                    found.setdefault(key, {**entry, "artifact": produced[step_run_id]})
            inputs = self.store.conn.execute(
                sa.select(lin.artifact_id)
                .where(lin.direction == "in", lin.step_run_id.in_(sorted(produced)))
                .distinct()
            ).all()
            frontier = {r[0] for r in inputs} - seen
            seen |= frontier
        return list(found.values())


def _version(row: Any, aliases: dict[tuple[str, int], list[str]]) -> ModelVersionRecord:
    data = dict(row._mapping)
    for key in ("metrics", "signature", "evaluation", "data"):
        data[key] = json.loads(data[key])
    return ModelVersionRecord(
        **data, aliases=tuple(sorted(aliases.get((row.name, row.version), [])))
    )
