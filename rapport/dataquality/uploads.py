"""An upload handler that stops storing an import upload once it is past the size limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

REFUSED = "_import_upload_refused"


class ImportUploadLimit(FileUploadHandler):
    """Installed first by the upload page: a file past IMPORT_MAX_UPLOAD_BYTES (by the
    request's Content-Length, or by the bytes received) is neither held in memory nor
    written to disk; the rest of the body is read and dropped so the page can answer."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit: int = settings.IMPORT_MAX_UPLOAD_BYTES
        self.request_length = 0
        self.received = 0

    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        # (input_data, META, content_length, boundary, encoding): only the length matters.
        self.request_length = int(args[2] if len(args) > 2 else kwargs["content_length"])

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.request_length > self.limit + 64 * 1024:  # the form's other fields
            self._refuse(self.request_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._refuse(self.received)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the file

    def _refuse(self, size: int) -> None:
        setattr(self.request, REFUSED, size)
        raise StopUpload(connection_reset=False)


def refused_size(request: HttpRequest) -> int | None:
    """The size at which the request's upload was refused, if it was."""
    return getattr(request, REFUSED, None)
