"""The content-addressed artifact store: bytes in, id out; id in, verified bytes out.

An artifact's id is the blake3 hash of the framing version, its encoding (materializer name and
version) and its bytes. Blobs live at `objects/ab/abcdef…` below the store root. Writes go to a
temporary name and are renamed into place, so a crash never leaves a partial blob under a real id;
an existing blob is never rewritten. Every read re-hashes the bytes and refuses a mismatch.
The root is a local path (fast path, plain `os`) or any fsspec URL (`s3://`, `gs://`, `memory://`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from conveyor.core.hashing import digest
from conveyor.exceptions import ArtifactCorruptedError, ArtifactError, ArtifactNotFoundError

__all__ = ["FRAMING_VERSION", "ArtifactStore", "BlobInfo", "StoredBlob", "artifact_id"]

#: Version of the id recipe and blob layout. Never reuse a number.
FRAMING_VERSION = 1
_ID = re.compile(r"^[0-9a-f]{64}$")


def artifact_id(encoding: str, data: bytes) -> str:
    """The content id of `data` written by the materializer `encoding` ("name@version")."""
    return digest(b"conveyor-artifact", str(FRAMING_VERSION).encode(), encoding.encode(), data)


def check_id(value: str) -> str:
    """Return `value` if it is a well-formed artifact id; ids become paths, so this is strict."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ArtifactError(f"{value!r} is not a valid artifact id (64 lowercase hex digits)")
    return value


@dataclass(frozen=True)
class StoredBlob:
    id: str
    uri: str
    size: int
    # written now: no record, so no cache entry, can refer to it yet (not part of its identity)
    new: bool = dataclasses.field(default=False, compare=False)


@dataclass(frozen=True)
class BlobInfo:
    """A file in the store: a blob (`id` set) or a leftover temporary file."""

    key: str
    id: str | None
    size: int
    modified: float


class _Backend(Protocol):
    def exists(self, key: str) -> bool: ...
    def read(self, key: str) -> bytes: ...
    def holds(self, key: str, data: bytes) -> bool: ...
    def write_atomic(self, key: str, data: bytes, *, replace: bool = False) -> None: ...
    def uri(self, key: str) -> str: ...
    def listing(self) -> Iterator[BlobInfo]: ...
    def delete(self, key: str) -> None: ...


class _LocalBackend:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.tmp = self.root / "tmp"

    def _path(self, key: str) -> Path:
        return self.root / key

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def holds(self, key: str, data: bytes) -> bool:
        """Whether the file at `key` is exactly `data`: a local re-read is cheap next to a write."""
        try:
            with open(self._path(key), "rb") as fh:
                if os.fstat(fh.fileno()).st_size != len(data):
                    return False
                view, chunk = memoryview(data), 1 << 20
                return all(
                    fh.read(chunk) == view[at : at + chunk] for at in range(0, len(data), chunk)
                )
        except FileNotFoundError:
            return False

    def read(self, key: str) -> bytes:
        path = self._path(key)
        if path.is_symlink() or path.parent.is_symlink():
            real = path.resolve()
            if not real.is_relative_to(self.root):
                raise ArtifactError(
                    f"{path} links outside the artifact store ({real}); refusing to read it"
                )
        return path.read_bytes()

    def listing(self) -> Iterator[BlobInfo]:
        for folder in (self.root / "objects", self.tmp):
            if not folder.is_dir():
                continue
            for dirpath, _, files in os.walk(folder):
                for name in files:
                    path = Path(dirpath) / name
                    try:
                        stat = path.lstat()
                    except FileNotFoundError:  # removed meanwhile
                        continue
                    blob = name if folder.name == "objects" and _ID.match(name) else None
                    key = path.relative_to(self.root).as_posix()
                    yield BlobInfo(key, blob, stat.st_size, stat.st_mtime)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def write_atomic(self, key: str, data: bytes, *, replace: bool = False) -> None:
        final = self._path(key)
        tmp = self.tmp / f"{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fh = open(tmp, "wb")  # noqa: SIM115 - closed below, before the rename
        except FileNotFoundError:
            self.tmp.mkdir(parents=True, exist_ok=True)
            fh = open(tmp, "wb")  # noqa: SIM115
        try:
            with fh:
                fh.write(data)
            try:
                os.replace(tmp, final)
            except FileNotFoundError:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()


class _FsspecBackend:
    def __init__(self, url: str) -> None:
        import fsspec

        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")
        self.protocol = url.split("://", 1)[0]
        self._conditional = self.protocol in ("s3", "s3a")

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def read(self, key: str) -> bytes:
        return bytes(self.fs.cat_file(self._path(key)))

    def holds(self, key: str, data: bytes) -> bool:
        """Whether an object of `data`'s size is at `key`: the size costs no download."""
        try:
            return int(self.fs.info(self._path(key)).get("size", -1)) == len(data)
        except FileNotFoundError:
            return False

    def write_atomic(self, key: str, data: bytes, *, replace: bool = False) -> None:
        # Object stores make a single PUT visible atomically; a temporary name adds nothing there.
        # Where the store can, the PUT is conditional (S3 `If-None-Match: *`): two writers of the
        # same blob never overwrite each other, and the loser learns the blob is already there.
        # `replace` overwrites an object known to be damaged.
        if self._conditional and not replace:
            try:
                self.fs.pipe_file(self._path(key), data, mode="create")
                return
            except FileExistsError:
                return  # same id, same bytes: the blob another writer stored is ours too
            except (TypeError, NotImplementedError):
                self._conditional = False  # this filesystem has no conditional write
        self.fs.pipe_file(self._path(key), data)

    def uri(self, key: str) -> str:
        return f"{self.protocol}://{self._path(key)}"

    def listing(self) -> Iterator[BlobInfo]:
        base = f"{self.root}/objects"
        if not self.fs.exists(base):
            return
        for path, info in self.fs.find(base, detail=True).items():
            name = path.rsplit("/", 1)[-1]
            modified = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
            if hasattr(modified, "timestamp"):
                modified = modified.timestamp()
            yield BlobInfo(
                path[len(self.root) + 1 :],
                name if _ID.match(name) else None,
                int(info.get("size") or 0),
                float(modified),
            )

    def delete(self, key: str) -> None:
        self.fs.rm_file(self._path(key))


class ArtifactStore:
    """Content-addressed blobs below `root` (a local path or an fsspec URL)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = str(root)
        is_url = "://" in self.root and not self.root.startswith("file://")
        if is_url:
            self._backend: _Backend = _FsspecBackend(self.root)
        else:
            local = self.root.removeprefix("file://")
            self._backend = _LocalBackend(Path(local))

    @staticmethod
    def key(artifact: str) -> str:
        check_id(artifact)
        return f"objects/{artifact[:2]}/{artifact}"

    def put(self, encoding: str, data: bytes) -> StoredBlob:
        """Store `data`; a blob with the same id already present is kept, not rewritten.

        A present blob that is not these bytes (truncated, damaged: a local one is compared
        byte for byte, a remote one by size) is replaced, so re-running the step that produced
        a corrupted artifact repairs it.
        """
        blob_id = artifact_id(encoding, data)
        key = self.key(blob_id)
        new = not self._backend.exists(key)
        if new:
            self._backend.write_atomic(key, data)
        elif not self._backend.holds(key, data):
            self._backend.write_atomic(key, data, replace=True)
        return StoredBlob(blob_id, self._backend.uri(key), len(data), new)

    def exists(self, artifact: str) -> bool:
        return self._backend.exists(self.key(artifact))

    def get(self, artifact: str, encoding: str) -> bytes:
        """The bytes of `artifact`, verified against its id."""
        key = self.key(artifact)
        try:
            data = self._backend.read(key)
        except FileNotFoundError:
            raise ArtifactNotFoundError(
                f"artifact {artifact[:12]}: its bytes are missing from the store at {self.root} "
                f"({key}); re-run the step that produced it with --no-cache"
            ) from None
        if artifact_id(encoding, data) != artifact:
            raise ArtifactCorruptedError(
                f"artifact {artifact[:12]}: the bytes at {self._backend.uri(key)} do not match "
                "its content hash (corrupted or modified); re-run the producing step "
                "with --no-cache"
            )
        return data

    def uri(self, artifact: str) -> str:
        return self._backend.uri(self.key(artifact))

    def listing(self) -> Iterator[BlobInfo]:
        """Every blob and temporary file in the store."""
        return self._backend.listing()

    def delete(self, key: str) -> None:
        """Remove the file at `key` (a blob or a temporary file), if present."""
        if key.startswith("/") or ".." in key.split("/"):
            raise ArtifactError(f"refusing to delete {key!r}: not a key inside the store")
        self._backend.delete(key)
