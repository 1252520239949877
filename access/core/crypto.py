"""Symmetric encryption of data at rest (face codes, face images, event snapshots).

Fernet (AES-128-CBC with HMAC-SHA256) from `cryptography`. The keys come from settings.FIELD_ENCRYPTION_KEYS:
the first encrypts, every key decrypts, so a key can be rotated by putting the new one first.
"""

import os
import threading
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """Stored data could not be decrypted with any configured key (wrong key, or the data was altered)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: bytes) -> bytes:
    return _current().encrypt(plaintext)


def decrypt(token: bytes) -> bytes:
    try:
        return _current().decrypt(token)
    except InvalidToken as exc:
        raise DecryptionError(
            "stored data does not decrypt with the configured FIELD_ENCRYPTION_KEY"
        ) from exc


def write_encrypted(path: Path, plaintext: bytes) -> None:
    """Encrypt to `path` (mode 600), replacing it atomically: a reader gets the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = encrypt(plaintext)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
            file.write(token)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_encrypted(path: Path) -> bytes:
    """What `write_encrypted` wrote; OSError if unreadable, DecryptionError if altered or keyed otherwise."""
    return decrypt(path.read_bytes())
