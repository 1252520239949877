"""Encryption at rest: the database column and the file on disk never hold the plaintext."""

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.core.files.base import ContentFile
from django.db import connection

from access.core import crypto
from access.core.storage import encrypted_storage
from access.people.models import FaceSample
from tests.access.conftest import stored_files


def test_round_trip_and_every_token_differs():
    first, second = crypto.encrypt(b"secret"), crypto.encrypt(b"secret")

    assert first != second
    assert b"secret" not in first
    assert crypto.decrypt(first) == crypto.decrypt(second) == b"secret"


def test_a_wrong_key_fails_loudly(settings):
    token = crypto.encrypt(b"secret")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_rotation_keeps_old_data_readable(settings):
    token = crypto.encrypt(b"secret")
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]

    assert crypto.decrypt(token) == b"secret"
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert crypto.decrypt(crypto.encrypt(b"fresh")) == b"fresh"


def test_stored_image_is_ciphertext_on_disk(photo_bytes, media_root):
    name = encrypted_storage.save("samples/face.jpg", ContentFile(photo_bytes))

    (on_disk,) = stored_files(media_root)
    ciphertext = on_disk.read_bytes()
    assert not ciphertext.startswith(b"\xff\xd8")  # no JPEG signature
    assert photo_bytes[100:164] not in ciphertext
    with encrypted_storage.open(name) as stored:
        assert stored.read() == photo_bytes


def test_face_code_column_holds_no_floats(person, photo_bytes):
    code = np.linspace(-0.3, 0.3, 128, dtype=np.float32)
    sample = FaceSample(person=person, width=250, height=250, model_version="dlib-resnet-v1")
    sample.image.save("face.jpg", ContentFile(photo_bytes), save=False)
    sample.face_code = code
    sample.state = FaceSample.State.ENROLLED
    sample.save()

    with connection.cursor() as cursor:
        cursor.execute("SELECT face_code_data FROM people_facesample WHERE id = %s", [sample.pk])
        (raw,) = cursor.fetchone()
    raw = bytes(raw)
    assert code.tobytes() not in raw
    assert code[:4].tobytes() not in raw
    np.testing.assert_array_equal(FaceSample.objects.get(pk=sample.pk).face_code, code)


@pytest.mark.parametrize("bad_code", [np.zeros(127), np.zeros((2, 64)), np.full(128, np.nan)])
def test_face_code_must_be_128_finite_floats(bad_code):
    with pytest.raises(ValueError, match="128 finite float32"):
        FaceSample().face_code = bad_code
