"""Import actions outside the run itself: a foreground import (`import_foreground`, the
CLI's) leaves a run record only when it ran; uploads are size-checked before they are
stored (`check_upload_size`) under `files_root()`; a mapping is checked and may be saved
for the next file (`import_set_mapping`); old uploads are deleted (`prune_uploads`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rapport.customers.models import Customer
from rapport.dataquality import services
from rapport.dataquality.mapping import MappingError
from rapport.dataquality.models import ImportMapping, ImportRun, ImportStatus
from rapport.identity.tests.factories import UserFactory

from ..conftest import HEADER, contact

pytestmark = pytest.mark.django_db

MAPPING = {column: column for column in HEADER}


@pytest.fixture
def admin():
    return UserFactory(is_superuser=True, is_staff=True)


def test_import_foreground_records_a_finished_run(admin, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1), contact(2)])
    result, _ = services.import_foreground(
        actor=admin, object_type="contacts", path=path, headers=HEADER, mapping=MAPPING
    )
    assert (result.rows, result.created) == (2, 2)
    assert Customer.objects.count() == 2
    run = ImportRun.objects.get()
    assert (run.owner_id, run.status, run.total_rows) == (admin.pk, ImportStatus.DONE, 2)
    assert (run.original_name, run.mapping) == ("contacts.csv", MAPPING)
    assert run.finished_at is not None


def test_import_foreground_dry_run_writes_nothing(admin, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1), contact(2, email="not an e-mail")])
    result, _ = services.import_foreground(
        actor=admin,
        object_type="contacts",
        path=path,
        headers=HEADER,
        mapping=MAPPING,
        dry_run=True,
    )
    assert result.rows == 2
    assert result.failed == 1
    assert not Customer.objects.exists()
    assert not ImportRun.objects.exists()


def test_import_foreground_that_cannot_start_leaves_no_run(
    admin, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([contact(1)])
    with pytest.raises(MappingError):
        services.import_foreground(
            actor=admin,
            object_type="contacts",
            path=path,
            headers=HEADER,
            mapping={"no such column": "email"},
        )
    assert not ImportRun.objects.exists()
    assert not Customer.objects.exists()


def test_check_upload_size_refuses_past_the_limit(settings) -> None:
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024 * 1024
    services.check_upload_size(None)  # a streamed upload of unknown size is read later
    services.check_upload_size(1024 * 1024)
    with pytest.raises(ValidationError) as refused:
        services.check_upload_size(1024 * 1024 + 1)
    assert "1 MB" in refused.value.message_dict["file"][0]


def test_an_oversized_upload_is_never_stored(settings, admin) -> None:
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    upload = SimpleUploadedFile("contacts.csv", b"email\nada@example.com\n")
    with pytest.raises(ValidationError):
        services.import_upload(actor=admin, object_type="contacts", upload=upload)
    assert not ImportRun.objects.exists()
    uploads = services.files_root() / services.UPLOAD_DIR
    assert not uploads.exists() or not any(uploads.iterdir())


def test_uploads_are_stored_under_files_root(settings, tmp_path, admin) -> None:
    assert services.files_root() == Path(settings.VAR_DIR) / "files"
    upload = SimpleUploadedFile("contacts.csv", b"email,first_name\nada@example.com,Ada\n")
    run = services.import_upload(actor=admin, object_type="contacts", upload=upload)
    stored = services.files_root() / run.stored_file
    assert stored.is_file()
    assert stored.is_relative_to(tmp_path)
    assert stored.read_bytes().startswith(b"email,first_name")


@pytest.fixture
def uploaded(admin) -> ImportRun:
    upload = SimpleUploadedFile("contacts.csv", b"E-mail,Given name\nada@example.com,Ada\n")
    return services.import_upload(actor=admin, object_type="contacts", upload=upload)


def test_import_set_mapping_stores_the_mapping_and_saves_it_by_name(admin, uploaded) -> None:
    mapping = {"E-mail": "email", "Given name": ""}
    run = services.import_set_mapping(
        actor=admin, run=uploaded, mapping=mapping, upsert_by="email", save_as="  Shop export "
    )
    run.refresh_from_db()
    assert (run.mapping, run.upsert_by) == (mapping, "email")
    saved = ImportMapping.objects.get(owner=admin)
    # Unmapped columns are not part of what is saved for the next file.
    assert (saved.name, saved.mapping) == ("Shop export", {"E-mail": "email"})
    # Saving under the same name replaces it.
    services.import_set_mapping(
        actor=admin,
        run=uploaded,
        mapping={"E-mail": "email", "Given name": "first_name"},
        upsert_by="email",
        save_as="Shop export",
    )
    assert ImportMapping.objects.get(owner=admin).mapping == {
        "E-mail": "email",
        "Given name": "first_name",
    }


@pytest.mark.parametrize(
    ("mapping", "upsert_by", "field"),
    [
        ({"E-mail": "email"}, "phone", "upsert_by"),
        ({"E-mail": "shoe_size"}, "email", "mapping"),
        ({"Missing": "email"}, "email", "mapping"),
    ],
)
def test_import_set_mapping_refuses_what_cannot_work(admin, uploaded, mapping, upsert_by, field):
    before = dict(uploaded.mapping)
    with pytest.raises(ValidationError) as refused:
        services.import_set_mapping(
            actor=admin, run=uploaded, mapping=mapping, upsert_by=upsert_by, save_as="x"
        )
    assert field in refused.value.message_dict
    uploaded.refresh_from_db()
    assert uploaded.mapping == before
    assert not ImportMapping.objects.exists()


def test_import_set_mapping_is_the_owners(uploaded) -> None:
    with pytest.raises(PermissionDenied):
        services.import_set_mapping(
            actor=UserFactory(), run=uploaded, mapping={"E-mail": "email"}, upsert_by="email"
        )


def test_prune_uploads_deletes_old_files_once_and_keeps_the_run(admin, uploaded) -> None:
    recent = services.import_upload(
        actor=admin,
        object_type="contacts",
        upload=SimpleUploadedFile("recent.csv", b"email\nada@example.com\n"),
    )
    ImportRun.objects.filter(pk=uploaded.pk).update(
        created_at=timezone.now() - dt.timedelta(days=8)
    )
    cutoff = timezone.now() - dt.timedelta(days=7)
    assert services.prune_uploads(older_than=cutoff) == 1
    assert not (services.files_root() / services.UPLOAD_DIR / str(uploaded.pk)).exists()
    assert (services.files_root() / recent.stored_file).is_file()
    pruned = ImportRun.objects.get(pk=uploaded.pk)  # the record of the import stays
    assert pruned.file_deleted_at is not None
    assert services.prune_uploads(older_than=cutoff) == 0
