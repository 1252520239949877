from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from . import crypto


class EncryptedFileSystemStorage(FileSystemStorage):
    """Files under MEDIA_ROOT, encrypted on write and decrypted on read.

    MEDIA_ROOT is never served: images reach users only through API views that check permissions.
    """

    def _save(self, name: str, content) -> str:
        content.seek(0)
        return super()._save(name, ContentFile(crypto.encrypt(content.read())))

    def _open(self, name: str, mode: str = "rb") -> ContentFile:
        with super()._open(name, "rb") as stored:
            return ContentFile(crypto.decrypt(stored.read()), name=name)


encrypted_storage = EncryptedFileSystemStorage()
