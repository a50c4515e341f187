"""What imports hold about a person: failed rows kept for the error report (the row as it
was in the file) and the dry run's sample of errors. The uploaded files and error reports
themselves are rewritten by core's stored-files contributor."""

from __future__ import annotations

from rapport.core import registry
from rapport.core.gdpr import ErasureContext, chunked, sweep
from rapport.dataquality.models import ImportRowError, ImportRun


def erase(*, ctx: ErasureContext) -> int:
    # A failed row that quotes the person is theirs: drop every error of that row.
    theirs = {
        (err.run_id, err.row)
        for err in ctx.candidates(
            ImportRowError.objects.all(), text_fields=["message"], json_fields=["values"]
        ).only("run_id", "row", "message", "values")
        if ctx.matches(err.message) or ctx.scrub(err.values)[1]
    }
    deleted = 0
    for run_id in {run for run, _ in theirs}:
        rows = sorted(row for run, row in theirs if run == run_id)
        for batch in chunked([str(r) for r in rows]):
            deleted += ImportRowError.objects.filter(
                run_id=run_id, row__in=[int(r) for r in batch]
            ).delete()[0]
    return deleted + sweep(ImportRun.objects.all(), ctx, json_fields=["dry_run_report"])


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(key="dataquality", label="Imports", erase=erase, order=40)
    )
