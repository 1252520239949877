from django.db import models

from . import crypto


class EncryptedBinaryField(models.BinaryField):
    """Bytes in Python, a Fernet token in the database: the column never holds the plaintext."""

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is not None:
            value = crypto.encrypt(bytes(value))
        return super().get_db_prep_value(value, connection, prepared)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return crypto.decrypt(bytes(value))
