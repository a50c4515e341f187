"""Import actions: upload a file, check it (dry run), run it (resumable), save mappings.

The CLI and the UI's background tasks call the same functions here."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from rapport.core import registry, spreadsheets
from rapport.core.jobs import Progress, job_create
from rapport.core.models import Job
from rapport.core.permissions import require
from rapport.customers.models import Customer
from rapport.dataquality import sources
from rapport.dataquality.importing import ContactImporter, ImportResult
from rapport.dataquality.mapping import MappingError, ResolvedMapping, resolve, suggest
from rapport.dataquality.models import (
    ImportMapping,
    ImportObjectType,
    ImportRowError,
    ImportRun,
    ImportStatus,
    UpsertBy,
)
from rapport.dataquality.orders import OrderImporter

UPLOAD_DIR = "imports"
DRY_RUN_ERRORS_KEPT = 200


def files_root() -> Path:
    return Path(settings.VAR_DIR) / "files"


def run_import(
    *,
    actor: Any,
    object_type: str,
    path: str | Path,
    mapping: dict[str, str] | None,
    upsert_by: str = UpsertBy.EXTERNAL_ID,
    owner_id: int | None = None,
    team_id: int | None = None,
    dry_run: bool = False,
    run: ImportRun | None = None,
    original_name: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int | None = None,
    encoding: str | None = None,
) -> tuple[ImportResult, ResolvedMapping]:
    """Import (or, with `dry_run`, check) a file. Raises SourceError/MappingError for a
    file or mapping that cannot work; row problems are in the result."""
    with sources.open_table(path, original_name=original_name, encoding=encoding) as source:
        chosen = (
            mapping if mapping is not None else suggest(source.headers, object_type, fuzzy=False)
        )
        try:
            resolved = resolve(chosen, source.headers, object_type)
        except MappingError as exc:
            raise MappingError(f"{original_name or Path(path).name}: {exc}") from exc
        if registry.import_target(object_type).write_batch is not None:
            # Records their own app writes (orders): parsed and grouped here, written by it.
            order_importer = OrderImporter(
                actor=actor, resolved=resolved, dry_run=dry_run, run=run, on_progress=on_progress
            )
            return order_importer.execute(source.rows), resolved
        importer = ContactImporter(
            actor=actor,
            resolved=resolved,
            upsert_by=upsert_by,
            owner_id=owner_id,
            team_id=team_id,
            dry_run=dry_run,
            run=run,
            on_progress=on_progress,
            batch_size=batch_size,
        )
        return importer.execute(source.rows), resolved


def import_foreground(
    *,
    actor: Any,
    object_type: str,
    path: Path,
    headers: list[str],
    mapping: dict[str, str],
    upsert_by: str = UpsertBy.EXTERNAL_ID,
    owner_id: int | None = None,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int | None = None,
    encoding: str | None = None,
) -> tuple[ImportResult, ResolvedMapping]:
    """Import a file in this process (`rapport import`). A real run is recorded as an
    ImportRun (its checkpoint and failed rows, as a UI import's are); a run that cannot
    start (a bad file or mapping) leaves no record. Raises as `run_import` does."""
    run = None
    if not dry_run:
        run = ImportRun.objects.create(
            owner=actor if getattr(actor, "is_authenticated", False) else None,
            object_type=object_type,
            original_name=path.name[:255],
            headers=headers,
            mapping=mapping,
            upsert_by=upsert_by,
            assign_owner_id=owner_id,
            status=ImportStatus.RUNNING,
        )
    try:
        result, resolved = run_import(
            actor=actor,
            object_type=object_type,
            path=path,
            mapping=mapping,
            upsert_by=upsert_by,
            owner_id=owner_id,
            dry_run=dry_run,
            run=run,
            on_progress=on_progress,
            batch_size=batch_size,
            encoding=encoding,
        )
    except Exception:
        if run is not None:
            # Nothing committed: no trace. Batches committed: the run says it stopped.
            deleted, _ = ImportRun.objects.filter(pk=run.pk, rows_committed=0).delete()
            if not deleted:
                ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.FAILED)
        raise
    if run is not None:
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.DONE, finished_at=timezone.now(), total_rows=result.rows
        )
    return result, resolved


# --- the UI's flow: upload → mapping → dry run → import ------------------------------


def check_upload_size(size: int | None) -> None:
    """Refuse an upload past IMPORT_MAX_UPLOAD_BYTES, before it is stored or read."""
    limit: int = settings.IMPORT_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise ValidationError(
            {
                "file": f"The file is larger than {limit / 1024 / 1024:,.0f} MB, the "
                "largest an upload may be (setting IMPORT_MAX_UPLOAD_BYTES)."
            }
        )


def import_upload(*, actor: Any, object_type: str, upload: UploadedFile) -> ImportRun:
    """Store an uploaded file under VAR_DIR/files/imports/<uuid>/ and read its header."""
    require(actor, "create", Customer)
    if object_type not in ImportObjectType.values:
        raise ValidationError({"object_type": "Choose contacts or orders."})
    name = Path(upload.name or "upload.csv").name[:200]
    suffix = Path(name.lower()).suffix
    if suffix not in (".csv", ".txt", ".tsv", *sources.SPREADSHEET_SUFFIXES):
        raise ValidationError(
            {"file": "Upload a CSV or an XLSX file (or an XLSM, XLSB, XLS or ODS spreadsheet)."}
        )
    check_upload_size(upload.size)
    run_id = uuid.uuid4()
    stored = f"upload{suffix}" if suffix in sources.SPREADSHEET_SUFFIXES else "upload.csv"
    relative = f"{UPLOAD_DIR}/{run_id}/{stored}"
    target = files_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    try:
        headers = sources.read_headers(target, original_name=name)
    except sources.SourceError as exc:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise ValidationError({"file": str(exc).replace(str(target), name)}) from exc
    return ImportRun.objects.create(
        id=run_id,
        owner=actor,
        object_type=object_type,
        original_name=name,
        stored_file=relative,
        headers=headers,
        mapping=suggest(headers, object_type),
    )


def import_set_mapping(
    *,
    actor: Any,
    run: ImportRun,
    mapping: dict[str, str],
    upsert_by: str,
    save_as: str = "",
) -> ImportRun:
    _require_owner(actor, run)
    if upsert_by not in UpsertBy.values:
        raise ValidationError({"upsert_by": "Choose external_id or email."})
    try:
        resolve(mapping, run.headers, run.object_type)
    except ValueError as exc:
        raise ValidationError({"mapping": str(exc)}) from exc
    run.mapping = mapping
    run.upsert_by = upsert_by
    run.save(update_fields=["mapping", "upsert_by"])
    if save_as.strip():
        ImportMapping.objects.update_or_create(
            owner=actor,
            object_type=run.object_type,
            name=save_as.strip()[:100],
            defaults={"mapping": {k: v for k, v in mapping.items() if v}},
        )
    return run


def _require_owner(actor: Any, run: ImportRun) -> None:
    if run.owner_id != actor.pk and not actor.is_admin:
        raise PermissionDenied("This import belongs to someone else.")


def import_start(*, actor: Any, run: ImportRun, dry_run: bool) -> Job:
    """Queue the dry run or the real import of an uploaded file as a background job."""
    _require_owner(actor, run)
    require(actor, "create", Customer)

    if not dry_run and run.status in (ImportStatus.RUNNING, ImportStatus.DONE):
        raise ValidationError("This file has already been imported.")
    what = run.get_object_type_display().lower()
    title = f"{'Check' if dry_run else 'Import'} {what} from {run.original_name}"
    job = job_create(
        owner=actor,
        kind="import.dry_run" if dry_run else "import",
        title=title,
        params={"import_run": str(run.pk)},
    )
    with transaction.atomic():
        if dry_run:
            run.dry_run_job = job
            run.status = ImportStatus.CHECKING
        else:
            run.job = job
            run.status = ImportStatus.RUNNING
        run.save(update_fields=["dry_run_job", "job", "status"])
        transaction.on_commit(
            lambda: registry.enqueue(
                "dataquality.import_file", run_id=str(run.pk), job_id=str(job.pk)
            )
        )
    return job


def execute_run(run_id: str, job: Job, progress: Progress) -> dict[str, Any]:
    """The body of an import job (dry or real): safe to run again after a crash."""
    run = ImportRun.objects.select_related("owner").get(pk=run_id)
    dry_run = run.dry_run_job_id == job.pk
    path = files_root() / run.stored_file
    if not run.stored_file or not path.exists():
        raise sources.SourceError("The uploaded file is no longer available; upload it again.")
    progress.set_total(sources.count_rows(path, original_name=run.original_name))
    if not dry_run and run.rows_committed:
        progress.advance(run.rows_committed, message="Resuming after a restart")
    actor = run.owner
    try:
        result, _ = run_import(
            actor=actor,
            object_type=run.object_type,
            path=path,
            mapping=run.mapping,
            upsert_by=run.upsert_by,
            owner_id=run.assign_owner_id,
            team_id=min(actor.team_ids(), default=None) if actor is not None else None,
            dry_run=dry_run,
            run=None if dry_run else run,
            original_name=run.original_name,
            on_progress=progress.advance,
        )
    except Exception:
        # The job records the error; the import's own status says it did not finish.
        ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.FAILED)
        raise
    summary = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "failed": result.failed,
    }
    if dry_run:
        ImportRun.objects.filter(pk=run.pk).update(
            status=ImportStatus.CHECKED,
            total_rows=result.rows,
            dry_run_report={
                **summary,
                "rows": result.rows,
                "errors": [e.as_dict() for e in result.errors[:DRY_RUN_ERRORS_KEPT]],
                "more_errors": max(len(result.errors) - DRY_RUN_ERRORS_KEPT, 0)
                + (1 if result.errors_truncated else 0),
            },
        )
        return {**summary, "rows": result.rows}
    run.refresh_from_db()
    error_file = write_error_file(run) if run.failed else ""
    if error_file:
        Job.objects.filter(pk=job.pk).update(result_file=error_file)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.DONE, finished_at=timezone.now(), total_rows=run.rows_committed
    )
    return {
        "rows": run.rows_committed,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
        **({"file_label": "error report"} if error_file else {}),
    }


def write_error_file(run: ImportRun) -> str:
    """The failed rows as they were in the file plus a `reason` column (CSV)."""
    relative = f"{UPLOAD_DIR}/{run.pk}/errors-{run.pk.hex[:8]}.csv"
    target = files_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    reasons: dict[int, tuple[list[str], list[str]]] = {}
    for err in ImportRowError.objects.filter(run=run).order_by("row", "id").iterator(2000):
        values, messages = reasons.setdefault(err.row, (err.values, []))
        messages.append(f"{err.field}: {err.message}" if err.field else err.message)
    with target.open("w", encoding="utf-8-sig", newline="") as out:
        # The header names come from the uploaded file too: the writer neutralises them
        # with every other cell (an administrator downloads other users' reports).
        writer = spreadsheets.csv_writer(out)
        writer.writerow(["row", *run.headers, "reason"])
        for row, (values, messages) in sorted(reasons.items()):
            cells = list(values) + [""] * (len(run.headers) - len(values))
            writer.writerow([row, *cells, "; ".join(messages)])
    return relative


def prune_uploads(*, older_than: Any) -> int:
    """Delete uploaded files (and error files) of imports older than the cutoff."""
    deleted = 0
    for run in ImportRun.objects.filter(created_at__lt=older_than, file_deleted_at__isnull=True):
        folder = files_root() / UPLOAD_DIR / str(run.pk)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        ImportRun.objects.filter(pk=run.pk).update(file_deleted_at=timezone.now())
        deleted += 1
    return deleted
