"""Symmetric encryption of data at rest (face codes, face images, event snapshots).

Fernet (AES-128-CBC with HMAC-SHA256) from `cryptography`. The keys come from settings.FIELD_ENCRYPTION_KEYS:
the first encrypts, every key decrypts, so a key can be rotated by putting the new one first.
"""

from functools import cache

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
