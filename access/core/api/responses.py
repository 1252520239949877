import mimetypes

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def decrypted_file_response(file: FieldFile) -> FileResponse:
    """The plaintext of an encrypted stored image, for a view that has already checked permissions."""
    if not file:
        raise Http404("No image stored.")
    content_type, _ = mimetypes.guess_type(file.name)
    response = FileResponse(
        file.storage.open(file.name), content_type=content_type or "application/octet-stream"
    )
    response["Cache-Control"] = "private, no-store"
    return response
