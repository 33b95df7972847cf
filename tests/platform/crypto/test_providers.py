"""The local key file and the provider chosen by settings."""

import os
import stat
from pathlib import Path

import pytest

from autoledger.kit.errors import ConfigurationError
from autoledger.kit.settings import Settings
from autoledger.platform.crypto import DecryptionFailed, GcpKmsKek, LocalKek, kek_from_settings


async def test_the_key_file_is_created_on_first_use_owner_only(kek_path: Path) -> None:
    kek = LocalKek(kek_path)
    assert not kek_path.exists()  # constructing reads nothing
    wrapped = await kek.wrap(b"k" * 32, b"aad")
    assert stat.S_IMODE(kek_path.stat().st_mode) == 0o600
    assert len(kek_path.read_bytes()) == 32
    assert not [p for p in kek_path.parent.iterdir() if p != kek_path]  # no temp left
    # Another process (a new provider) finds the same key.
    assert await LocalKek(kek_path).unwrap(wrapped, b"aad") == b"k" * 32


async def test_unwrapping_needs_the_same_associated_data(kek_path: Path) -> None:
    kek = LocalKek(kek_path)
    wrapped = await kek.wrap(b"k" * 32, b"tenant-a")
    with pytest.raises(DecryptionFailed):
        await kek.unwrap(wrapped, b"tenant-b")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
async def test_a_key_file_others_can_read_is_refused(kek_path: Path, mode: int) -> None:
    kek_path.parent.mkdir()
    kek_path.write_bytes(os.urandom(32))
    kek_path.chmod(mode)
    with pytest.raises(ConfigurationError, match="chmod 600") as caught:
        await LocalKek(kek_path).wrap(b"k" * 32, b"aad")
    assert caught.value.setting == "AUTOLEDGER_LOCAL_KEK_PATH"


async def test_a_key_file_of_the_wrong_size_is_refused(kek_path: Path) -> None:
    kek_path.parent.mkdir()
    kek_path.write_bytes(b"short")
    kek_path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="exactly 32 bytes"):
        await LocalKek(kek_path).wrap(b"k" * 32, b"aad")


def test_key_ids_fingerprint_without_revealing(kek_path: Path, tmp_path: Path) -> None:
    first, again, other = LocalKek(kek_path), LocalKek(kek_path), LocalKek(tmp_path / "b.key")
    assert first.key_id == again.key_id != other.key_id
    assert kek_path.read_bytes().hex() not in first.key_id


def test_settings_choose_the_provider(tmp_path: Path) -> None:
    local = kek_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalKek)
    assert local.path == tmp_path / "kek.key"
    explicit = kek_from_settings(Settings(local_kek_path=tmp_path / "x.key"))
    assert isinstance(explicit, LocalKek)
    assert explicit.path == tmp_path / "x.key"
    name = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
    kms = kek_from_settings(Settings(key_provider="gcp-kms", kms_key_name=name))
    assert isinstance(kms, GcpKmsKek)
    assert kms.key_id == name


def test_gcp_kms_without_a_key_name_names_the_setting() -> None:
    with pytest.raises(ConfigurationError) as caught:
        kek_from_settings(Settings(key_provider="gcp-kms"))
    assert caught.value.setting == "AUTOLEDGER_KMS_KEY_NAME"
