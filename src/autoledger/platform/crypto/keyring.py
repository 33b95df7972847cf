"""The process's keyring: its KEKs and a short-lived cache of unwrapped data keys.

The cache saves a KMS round trip per field operation; it is keyed by the data key's row id,
so a key whose row was rolled back is never found again, and every lookup is preceded by a
read of the row, so a shredded key is refused at once, in every process. Unwrapped keys live
only in this cache and in local variables: they are never logged, repr'd or persisted.
"""

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence

from autoledger.kit.settings import Settings, load_settings
from autoledger.platform.crypto.errors import KekUnavailable
from autoledger.platform.crypto.providers import KeyEncryptionKey, kek_from_settings

CACHE_SECONDS = 300.0
CACHE_SIZE = 4096


class Keyring:
    """``kek`` wraps new data keys; ``previous`` KEKs still unwrap, for a rollout during
    which some keys are wrapped by the old KEK and some by the new."""

    def __init__(
        self,
        kek: KeyEncryptionKey,
        *,
        previous: Sequence[KeyEncryptionKey] = (),
        cache_seconds: float = CACHE_SECONDS,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kek = kek
        self.previous = tuple(previous)
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[uuid.UUID, tuple[bytes, float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"Keyring({self.kek!r}, cached={len(self._cache)})"

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keyring":
        return cls(kek_from_settings(settings))

    def kek_for(self, key_id: str) -> KeyEncryptionKey:
        for kek in (self.kek, *self.previous):
            if kek.key_id == key_id:
                return kek
        raise KekUnavailable(
            f"a data key is wrapped by KEK {key_id!r}, which this process is not configured "
            f"with (it uses {self.kek.key_id!r})"
        )

    def cached(self, key_row_id: uuid.UUID) -> bytes | None:
        found = self._cache.get(key_row_id)
        if found is None:
            return None
        key, expires = found
        if self._clock() >= expires:
            del self._cache[key_row_id]
            return None
        self._cache.move_to_end(key_row_id)
        return key

    def remember(self, key_row_id: uuid.UUID, key: bytes) -> None:
        self._cache[key_row_id] = (key, self._clock() + self.cache_seconds)
        self._cache.move_to_end(key_row_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def forget(self, key_row_ids: Sequence[uuid.UUID] | None = None) -> None:
        """Drop the given keys from the cache, or all of them."""
        if key_row_ids is None:
            self._cache.clear()
        for key_row_id in key_row_ids or ():
            self._cache.pop(key_row_id, None)


_installed: Keyring | None = None


def install_keyring(keyring: Keyring | None) -> Keyring | None:
    """Make ``keyring`` the process's keyring (at start-up, from the one Settings); returns
    the one it replaces. ``None`` uninstalls."""
    global _installed
    previous, _installed = _installed, keyring
    return previous


def ensure_keyring(settings: Settings) -> Keyring:
    """The installed keyring, installing one from ``settings`` if there is none (a process
    builds its runtime once; tests that build several keep the first)."""
    global _installed
    if _installed is None:
        _installed = Keyring.from_settings(settings)
    return _installed


def current_keyring() -> Keyring:
    """The installed keyring; until one is installed, one built from the environment's
    settings (read once)."""
    global _installed
    if _installed is None:
        _installed = Keyring.from_settings(load_settings())
    return _installed
