"""Where original files are kept: a content-addressed object store.

Files are stored under their SHA-256, so storing the same file twice keeps one copy and a key
can never be made to point at other content. The local store writes to a temporary name,
fsyncs and renames, so a crash never leaves a half-written object under a real key. (An S3 or
GCS store would implement the same three methods; only the local one ships, see ADR 0010.)
"""

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

_KEY = re.compile(r"[0-9a-f]{64}")


class ObjectStore(Protocol):
    def put(self, source: Path, sha256: str) -> str:
        """Store the file at ``source`` (whose digest is ``sha256``); returns its key."""
        ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...


def copy_out(store: ObjectStore, key: str, target: Path) -> Path:
    """The object under ``key`` as a local file at ``target`` (parsers and archive readers
    want a path)."""
    with store.open(key) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return target


def chunks(store: ObjectStore, key: str, size: int = 1 << 20) -> Iterator[bytes]:
    """The object under ``key``, streamed (an HTTP download without a temporary copy)."""
    with store.open(key) as source:
        while chunk := source.read(size):
            yield chunk


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not an object key: {key!r}")
        return self.root / key[:2] / key

    def put(self, source: Path, sha256: str) -> str:
        target = self._path(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with source.open("rb") as src, temporary.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temporary, target)
        return sha256

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
