"""`ingest`: read a CSV or Parquet file, or a SQL query, into a DataFrame, and record where from.

A file source is fingerprinted by its bytes before the cache lookup, so an edited file gives a new
artifact and an unchanged one is a cache hit. A SQL source is live: the query runs every time,
and the steps below still hit the cache when the rows it returns have not changed (their input is
the same content-addressed artifact).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from conveyor.components._runtime import UNKNOWN
from conveyor.core.context import current_step, log_metric, log_param
from conveyor.core.hashing import hash_value
from conveyor.core.step import step
from conveyor.exceptions import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ingest", "read_source"]

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst")
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle", "duckdb")


def _scheme(source: str) -> str:
    return source.split("://", 1)[0].split("+", 1)[0].lower() if "://" in source else ""


def _is_sql(source: str) -> bool:
    return _scheme(source) in _SQL_SCHEMES


def _dialect_hint(source: str) -> str:
    """What to write instead of a scheme SQLAlchemy does not know (`postgres://`, which it
    dropped in 1.4), or "" when it knows the scheme or there is no known fix."""
    if _scheme(source) != "postgres":
        return ""
    import sqlalchemy as sa

    try:
        sa.engine.make_url(source).get_dialect()
    except Exception:  # NoSuchModuleError, unless a plugin registered the name
        return "; SQLAlchemy names the dialect postgresql://, not postgres://"
    return ""


def _format_of(source: str, format: str | None) -> str:
    if format is not None:
        if format not in ("csv", "tsv", "parquet"):
            raise ParameterError(
                f"ingest: format {format!r} is not supported; use 'csv', 'tsv' or 'parquet'"
            )
        return format
    name = source.lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    fmt = _FORMATS.get(os.path.splitext(name)[1])
    if fmt is None:
        raise ParameterError(
            f"ingest: cannot tell the format of {source!r} from its extension; "
            "pass format='csv', 'tsv' or 'parquet'"
        )
    return fmt


def _file_hash(source: str) -> str:
    """blake3 of the file's bytes; errors name the file."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if "://" not in source or source.startswith("file://"):
        path = Path(source.removeprefix("file://"))
        if not path.is_file():
            raise DataError(f"ingest: source file {source!r} does not exist")
        if path.stat().st_size == 0:
            raise DataError(f"ingest: source file {source!r} is empty (0 bytes)")
        hasher.update_mmap(path)
        return hasher.hexdigest()
    import fsspec

    try:
        with fsspec.open(source, "rb") as handle:
            size = 0
            while chunk := handle.read(1 << 22):
                size += len(chunk)
                hasher.update(chunk)
    except FileNotFoundError:
        raise DataError(f"ingest: source {source!r} does not exist") from None
    if size == 0:
        raise DataError(f"ingest: source {source!r} is empty (0 bytes)")
    return hasher.hexdigest()


#: content hashes taken for the cache key, reused by the step's body when the file has not changed
#: since: (run, step, source) → (the file's stat, its hash)
_HASHED: dict[tuple[str, str, str], tuple[tuple[int, ...], str]] = {}
_HASHED_LOCK = threading.Lock()
_HASHED_MAX = 256


def _stat(source: str) -> tuple[int, ...] | None:
    if "://" in source and not source.startswith("file://"):
        return None  # a remote object: hashed each time it is read
    try:
        st = os.stat(source.removeprefix("file://"))
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def _step_file_hash(source: str, *, for_key: bool) -> str:
    """`_file_hash(source)`, taken once per step run: the cache key's hash (`for_key`) is kept
    for the step's body, which takes it when it runs in the same process and the file has not
    changed since (same size, times and inode); otherwise the body hashes the file itself."""
    ctx = current_step()
    stat = _stat(source)
    if ctx is None or stat is None:
        return _file_hash(source)
    key = (ctx.run_id, ctx.node, source)
    with _HASHED_LOCK:
        found = _HASHED.get(key) if for_key else _HASHED.pop(key, None)
    if found is not None and found[0] == stat:
        return found[1]
    digest = _file_hash(source)
    if for_key:
        with _HASHED_LOCK:
            if len(_HASHED) >= _HASHED_MAX:  # steps served from the cache never take theirs
                _HASHED.pop(next(iter(_HASHED)))
            _HASHED[key] = (stat, digest)
    return digest


def _source_version(source: Any = None, query: str | None = None, **_: Any) -> str:
    """The cache token of a source: a file's content hash; a fresh token for live SQL."""
    if not isinstance(source, str) or query is not None or _is_sql(source):
        return uuid.uuid4().hex
    return _step_file_hash(source, for_key=True)


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://…"


def _root_cause(err: BaseException) -> str:
    """The driver's own message (pandas and SQLAlchemy wrap it), first line only."""
    while err.__cause__ is not None or getattr(err, "orig", None) is not None:
        err = getattr(err, "orig", None) or err.__cause__  # type: ignore[assignment]
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _read_sql(url: str, query: str) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    shown = _redacted(url)
    try:
        parsed = sa.engine.make_url(url)
    except Exception as err:
        raise DataError(f"ingest: {shown!r} is not a SQLAlchemy database URL: {err}") from None
    local = parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
    if local and not Path(parsed.database).is_file():  # SQLite would create an empty database
        raise DataError(f"ingest: SQLite database file {parsed.database!r} does not exist")
    connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    try:
        engine = sa.create_engine(parsed, connect_args=connect_args)
    except Exception as err:  # an unknown dialect or a driver that is not installed
        raise DataError(
            f"ingest: cannot use database URL {shown!r}: {err}{_dialect_hint(url)}"
        ) from None
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(sa.text(query), conn)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as err:
        raise DataError(f"ingest: query on {shown!r} failed: {_root_cause(err)}") from None
    finally:
        engine.dispose()


def _read_file(source: str, fmt: str, options: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    try:
        if fmt == "parquet":
            return pd.read_parquet(source, **options)
        sep = options.pop("sep", "\t" if fmt == "tsv" else ",")
        return pd.read_csv(source, sep=sep, **options)
    except FileNotFoundError:
        raise DataError(f"ingest: source file {source!r} does not exist") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"ingest: source file {source!r} has no columns (empty)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"ingest: {source!r} is not valid {fmt.upper()}: {err}") from None
    except TypeError as err:  # an option the reader does not take
        raise ParameterError(f"ingest: bad read option for {source!r}: {err}") from None
    except Exception as err:  # pyarrow: not a Parquet file, truncated footer, ...
        raise DataError(
            f"ingest: cannot read {source!r} as {fmt}: {type(err).__name__}: {err}"
        ) from None


def read_source(
    source: str,
    query: str | None = None,
    format: str | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a source; return the frame and what to record about it (uri, format, hash).

    The recorded `source` does not depend on the working directory: a relative path (or SQLite
    database) is recorded absolute, with what was written as `source_given`.
    """
    if not isinstance(source, str) or not source:
        raise ParameterError(f"ingest: source must be a path or URL, got {source!r}")
    if query is not None or _is_sql(source):
        if not query:
            raise ParameterError(f"ingest: the SQL source {_redacted(source)!r} needs query=")
        frame = _read_sql(source, query)
        facts = {"source": _redacted(_absolute_url(source)), "format": "sql", "query": query}
        facts["content_hash"] = hash_value(frame)
        given = _redacted(source)
    else:
        fmt = _format_of(source, format)
        facts = {"source": _absolute(source), "format": fmt}
        facts["content_hash"] = _step_file_hash(source, for_key=False)
        frame = _read_file(source, fmt, dict(options or {}))
        given = source
    if given != facts["source"]:
        facts["source_given"] = given
    return frame.reset_index(drop=True), facts


def _absolute(source: str) -> str:
    """A local path made absolute (without resolving symlinks); a URL as it is."""
    if "://" in source:
        return source
    return os.path.abspath(os.path.expanduser(source))


def _absolute_url(url: str) -> str:
    """A SQLite URL with a relative database file, made absolute; any other URL as it is."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        return url
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or os.path.isabs(database):
        return url
    return parsed.set(database=os.path.abspath(database)).render_as_string(hide_password=False)


def check_arguments(
    source: Any = UNKNOWN,
    query: Any = UNKNOWN,
    format: Any = None,
    options: Any = None,
    **_: Any,
) -> None:
    """ingest's arguments, checked when the pipeline is traced (the source is read when the
    step runs: a missing file or a database that does not answer fails the step)."""
    if source is not UNKNOWN and (not isinstance(source, str) or not source):
        raise ParameterError(f"source={source!r} must be a path or URL")
    if query is not UNKNOWN and query is not None and not isinstance(query, str):
        raise ParameterError(f"query={query!r} must be SQL text")
    if isinstance(source, str) and _is_sql(source):
        hint = _dialect_hint(source)
        if hint:
            raise ParameterError(f"source={_redacted(source)!r}: unknown database dialect{hint}")
        if query is None or query == "":
            raise ParameterError(
                f"source={_redacted(source)!r} is a database: give the SQL to run as query="
            )
    if format is not None and format not in ("csv", "tsv", "parquet"):
        raise ParameterError(f"format={format!r} must be 'csv', 'tsv' or 'parquet'")
    if options is not None and not isinstance(options, dict):
        raise ParameterError(f"options={options!r} must be a dict of reader options")


@step(cache_key_fn=_source_version, check=check_arguments)
def ingest(
    source: str,
    query: str | None = None,
    format: str | None = None,
    options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Read `source` (a CSV/TSV/Parquet path or URL, or a SQLAlchemy URL with `query`).

    Records the source, its format and content hash as params, and rows and columns as metrics.
    `options` go to `pandas.read_csv` / `read_parquet` (e.g. `{"sep": ";"}`).
    """
    frame, facts = read_source(source, query, format, options)
    for name, value in facts.items():
        log_param(name, value)
    log_metric("rows", len(frame))
    log_metric("columns", frame.shape[1])
    return frame
