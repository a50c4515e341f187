"""GDPR erasure's shared tools: what an erasure knows about the person (`ErasureContext`),
how copies of their values are found and blanked in JSON and text columns and in the
stored files. Core's own contributors live in `core.gdpr_contributors` (they use the audit
log, which uses these tools).

Copies are found two ways. By reference: each app says which of its records are the
person's (`ctx.add_objects`), and the rows about those records (audit rows, events) lose
their values. By value: every other row and file is searched for the person's
identifiers (e-mail, phone, external id, full name, street, note text), because copies
travel where no foreign key follows them: an event payload, a webhook's stored request,
an import's error report, an export file.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models import BooleanField, F, Func, Q, TextField
from django.db.models.functions import Cast

from rapport.core import spreadsheets

logger = logging.getLogger(__name__)

REDACTED = "[erased]"
# Shorter values would match unrelated text everywhere.
MIN_LENGTH = 5
CHUNK = 500


@dataclass
class ErasureContext:
    """One person's erasure, handed to every GDPR contributor in order."""

    actor: Any
    customer_id: int
    label: str  # what the person is called from now on: "Erased customer #12"
    # Lower-cased values that point at this one person (e-mail, phone, external id, full
    # name, street, a note's text). A string that holds one as a whole word sequence is
    # theirs. A lone first name, job title or city is not searched for: it would blank
    # everyone else's "Grace" or "Engineer"; the rows about the person's own records are
    # blanked by reference instead.
    identifiers: set[str] = field(default_factory=set)
    # object type ("customers.interaction") -> ids of the person's records.
    objects: dict[str, set[str]] = field(default_factory=dict)
    # Outbox events whose data was blanked: their webhook deliveries follow.
    event_ids: set[str] = field(default_factory=set)
    _as_given: set[str] = field(default_factory=set, repr=False)
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def add_identifiers(self, *values: Any, min_length: int = MIN_LENGTH) -> None:
        for value in values:
            given = " ".join(str(value or "").split())
            if len(given) >= min_length:
                self.identifiers.add(given.lower())
                self._as_given.add(given)
                self._pattern = None

    def add_objects(self, object_type: str, ids: Iterable[Any]) -> None:
        self.objects.setdefault(object_type, set()).update(str(i) for i in ids)

    def matches(self, text: str) -> bool:
        if not self.identifiers or not text:
            return False
        if self._pattern is None:
            alternatives = "|".join(
                re.escape(v) for v in sorted(self.identifiers, key=len, reverse=True)
            )
            # Not inside a longer word: "al li" is not in "Sal Lim".
            self._pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        return self._pattern.search(" ".join(text.split()).lower()) is not None

    def scrub(self, value: Any) -> tuple[Any, bool]:
        """`value` (JSON-like) with every string of the person's replaced; and whether any was."""
        if isinstance(value, str):
            return (REDACTED, True) if self.matches(value) else (value, False)
        if isinstance(value, list | tuple):
            items = [self.scrub(v) for v in value]
            return [v for v, _ in items], any(c for _, c in items)
        if isinstance(value, dict):
            if self._is_the_person(value):
                return {"id": value["id"], "erased": True}, True
            changed = False
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key, key_changed = (key, False)
                if isinstance(key, str) and self.matches(key):
                    new_key, key_changed = f"{REDACTED}:{len(out)}", True
                out[new_key], item_changed = self.scrub(item)
                changed = changed or key_changed or item_changed
            return out, changed
        return value, False

    def _is_the_person(self, value: dict[Any, Any]) -> bool:
        # A copy of the customer's own payload (an API response kept for an idempotent
        # replay, a merge event's "restored" record): by reference, whatever it still says
        # ("Grace" alone is no identifier).
        return value.get("kind") == "person" and str(value.get("id")) == str(self.customer_id)

    def _needles(self) -> set[str]:
        # What SQL looks for: each identifier's longest word (stored text may break lines
        # where the identifier has a space), as it is and JSON-escaped (SQLite keeps JSON
        # columns as json.dumps text, non-ASCII as \\u escapes). A superset: `matches`
        # decides.
        # SQLite compares case-insensitively in ASCII only, so an escaped "\\u00c5" is not
        # "\\u00e5": the value is looked for as it was given as well as in lower case.
        # A word shorter than MIN_LENGTH ("+33" of "+33 6 12 34 56 78") would select most
        # rows; the whole value is looked for then.
        needles: set[str] = set()
        for value in self.identifiers | self._as_given:
            word = max(value.split(), key=len)
            needle = word if len(word) >= MIN_LENGTH else value
            needles.add(needle)
            needles.add(json.dumps(needle)[1:-1])
        return needles

    def candidates(
        self,
        queryset: models.QuerySet[Any],
        *,
        text_fields: Iterable[str] = (),
        json_fields: Iterable[str] = (),
    ) -> models.QuerySet[Any]:
        """The rows whose columns may hold one of the person's values (a superset, in SQL)."""
        needles = self._needles()
        text_fields, json_fields = list(text_fields), list(json_fields)
        annotations = {f"_gdpr_{name}": Cast(name, TextField()) for name in json_fields}
        condition = Q()
        for column in text_fields:
            condition |= _contains_any(column, needles)
        # JSON may hold the person's payload with no identifier left in it (an old name,
        # no e-mail): look for their id as well (both databases print `"id": 12,`).
        pk = self.customer_id
        for column in annotations:
            condition |= _contains_any(column, needles | {f'"id": {pk},', f'"id": {pk}}}'})
        if not condition:
            return queryset.none()
        return queryset.annotate(**annotations).filter(condition)


def _contains_any(column: str, needles: set[str]) -> Q:
    """Rows whose `column` holds one of `needles`, case-insensitively."""
    if not needles:
        return Q()
    if connection.vendor == "postgresql":
        return Q(_LowerLikeAny(F(column), sorted(needles)))
    condition = Q()
    for needle in needles:  # SQLite: LIKE is fast there (its REGEXP calls back into Python)
        condition |= Q(**{f"{column}__icontains": needle})
    return condition


class _LowerLikeAny(Func):
    """PostgreSQL: `lower(text) LIKE ANY(patterns)`, the text computed once per row. OR'ed
    ILIKEs cast the JSON to text once per needle, and a regular expression alternation is
    slower still (100,000 events: 1.3 s against 2.3 s and 5 s)."""

    output_field = BooleanField()

    def __init__(self, expression: Any, needles: list[str]) -> None:
        super().__init__(expression)
        self.patterns = [
            "%" + re.sub(r"([\\%_])", r"\\\1", needle.lower()) + "%" for needle in needles
        ]

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, Any]:
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return f"lower({sql}) LIKE ANY(%s)", [*params, self.patterns]


def sweep(
    queryset: models.QuerySet[Any],
    ctx: ErasureContext,
    *,
    text_fields: Iterable[str] = (),
    json_fields: Iterable[str] = (),
    updater: Any = None,
) -> int:
    """Blank the person's values in the given columns of `queryset`'s rows; return how many
    rows changed. `updater(queryset, **values)` writes (default: QuerySet.update)."""
    text_fields, json_fields = list(text_fields), list(json_fields)
    update = updater or (lambda rows, **values: rows.update(**values))
    rows = ctx.candidates(queryset, text_fields=text_fields, json_fields=json_fields)
    # Read first, write after: SQLite gives no isolation between a half-read cursor and
    # writes to the same table on one connection.
    changes: list[tuple[Any, dict[str, Any]]] = []
    for row in rows.only("pk", *text_fields, *json_fields).iterator(chunk_size=CHUNK):
        values: dict[str, Any] = {}
        for name in text_fields:
            text = getattr(row, name) or ""
            if text and ctx.matches(text):
                values[name] = REDACTED
        for name in json_fields:
            new, changed = ctx.scrub(getattr(row, name))
            if changed:
                values[name] = new
        if values:
            changes.append((row.pk, values))
    for pk, values in changes:
        # The default manager: a model that refuses updates (the audit log) keeps refusing
        # unless the caller passes the sanctioned updater.
        update(queryset.model._default_manager.filter(pk=pk), **values)
    return len(changes)


def chunked(ids: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    batch: list[str] = []
    for value in ids:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- Stored files --------------------------------------------------------------------


def files_root() -> Path:
    return Path(settings.VAR_DIR) / "files"


def scrub_files(ctx: ErasureContext, root: Path | None = None) -> list[str]:
    """Rewrite or delete every stored file that holds the person's values.

    CSV/text files lose the rows that are the person's (header kept); XLSX workbooks
    likewise; archives and anything else unreadable row by row are deleted. Returns the
    paths (relative to `root`) that changed.
    """
    root = root or files_root()
    if not root.is_dir() or not ctx.identifiers:
        return []
    touched: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            if _scrub_file(path, ctx):
                touched.append(str(path.relative_to(root)))
        except OSError:
            logger.exception("GDPR erasure could not rewrite %s; deleting it", path)
            path.unlink(missing_ok=True)
            touched.append(str(path.relative_to(root)))
    return touched


def _scrub_file(path: Path, ctx: ErasureContext) -> bool:
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv", ".txt"}:
        return _scrub_delimited(path, ctx)
    if suffix == ".xlsx":
        return _scrub_workbook(path, ctx)
    if suffix == ".zip":
        if _zip_mentions(path, ctx):
            path.unlink()
            return True
        return False
    if ctx.matches(path.read_bytes().decode("utf-8", errors="ignore")):
        path.unlink()
        return True
    return False


def _scrub_delimited(path: Path, ctx: ErasureContext) -> bool:
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    text = raw.decode(encoding, errors="replace")
    if not ctx.matches(text):
        return False
    # Only the delimiter is sniffed: the rest of a sniffed dialect can be wrong (no
    # quoting), and every file we write and read is otherwise Excel-style CSV.
    try:
        delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    kept = rows[:1] + [row for row in rows[1:] if not any(ctx.matches(cell) for cell in row)]
    out = io.StringIO(newline="")
    spreadsheets.csv_writer(out, delimiter=delimiter).writerows(kept)
    _replace(path, out.getvalue().encode(encoding))
    return True


def _scrub_workbook(path: Path, ctx: ErasureContext) -> bool:
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    changed = False
    for sheet in workbook.worksheets:
        doomed = [
            row[0].row
            for row in sheet.iter_rows(min_row=2)
            if any(isinstance(c.value, str) and ctx.matches(c.value) for c in row)
        ]
        for index in reversed(doomed):
            sheet.delete_rows(index)
        changed = changed or bool(doomed)
    if changed:
        buffer = io.BytesIO()
        workbook.save(buffer)
        _replace(path, buffer.getvalue())
    return changed


def _zip_mentions(path: Path, ctx: ErasureContext) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(
                ctx.matches(archive.read(name).decode("utf-8", errors="ignore"))
                for name in archive.namelist()
            )
    except zipfile.BadZipFile:
        return ctx.matches(path.read_bytes().decode("utf-8", errors="ignore"))


def _replace(path: Path, content: bytes) -> None:
    # Write beside and rename, so a crash leaves the old file or the new one, never half.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gdpr-")
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(tmp, path)
