"""`rapport import` / `rapport export` as a user runs them: exit codes, one-line errors,
the --json summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rapport.config.cli import COMMANDS, main
from rapport.core.cli import EXIT_BAD_INPUT, EXIT_ROWS_FAILED, EXIT_USAGE
from rapport.customers.models import Customer

from .conftest import contact, read_csv

pytestmark = pytest.mark.django_db


def run_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the `rapport` entry point in-process (inside the test's transaction)."""
    from django.db import connections

    code = 0
    # Django closes every connection when a command run from argv ends; that would end
    # the test's transaction on PostgreSQL.
    close_all = connections.close_all
    connections.close_all = lambda: None  # type: ignore[method-assign]
    try:
        main(["rapport", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        connections.close_all = close_all  # type: ignore[method-assign]
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_shape(capsys: Any, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1), contact(2, email="bad@"), contact(3)])
    code, out, _ = run_cli(capsys, "import", "contacts", str(path), "--json")
    assert code == EXIT_ROWS_FAILED  # finished, but a row failed
    summary = json.loads(out)
    assert set(summary) == {"created", "updated", "unchanged", "failed", "errors"}
    assert (summary["created"], summary["updated"], summary["failed"]) == (2, 0, 1)
    assert summary["errors"] == [
        {"row": 3, "field": "email", "message": summary["errors"][0]["message"]}
    ]
    assert "e-mail" in summary["errors"][0]["message"]
    _, out, _ = run_cli(capsys, "import", "contacts", str(path), "--json")
    again = json.loads(out)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert Customer.objects.count() == 2


def test_dry_run_from_the_command_line(capsys: Any, write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1)])
    code, out, _ = run_cli(capsys, "import", "contacts", str(path), "--dry-run")
    assert code == 0 and "1 would be created" in out
    assert Customer.objects.count() == 0


def test_mapping_file_and_map_options(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([{"Id": "Z1", "Nom": "Curie", "Courriel": "marie@example.com"}])
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"Id": "external_id", "Nom": "last_name", "Courriel": "email"}))
    _, out, _ = run_cli(
        capsys, "import", "contacts", str(path), "--mapping", str(mapping), "--json"
    )
    assert json.loads(out)["created"] == 1
    _, out, _ = run_cli(
        capsys,
        "import",
        "contacts",
        str(path),
        "--map",
        "Nom=first_name",
        "--map",
        "Courriel=email",
        "--map",
        "Id=external_id",
        "--json",
    )
    assert json.loads(out)["updated"] == 1
    assert Customer.objects.get().first_name == "Curie"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["import", "contacts", "/no/such/file.csv"], "no such file"),
        (["import", "contacts", "{csv}", "--map", "Nope=email"], "'Nope'"),
        (["import", "contacts", "{csv}", "--map", "email=shoe"], "'shoe'"),
        (["import", "contacts", "{csv}", "--mapping", "/no/mapping.json"], "no such mapping"),
        (["import", "contacts", "{csv}", "--mapping", "{bad_json}"], "not a JSON mapping"),
        (["import", "contacts", "{csv}", "--upsert-by", "phone"], "invalid choice"),
        (["import", "contacts", "{csv}", "--owner", "ghost@example.com"], "no user"),
        (["import", "contacts", "{csv}", "--frobnicate"], "unrecognized arguments"),
        (["import", "people", "{csv}"], "invalid choice"),
        (["import", "contacts", "{binary}"], "not a text"),
        (["export", "contacts", "-o", "{out}", "--filter", "colour=red"], "Unknown filter"),
        (["export", "contacts", "-o", "{out}", "--format", "pdf"], "invalid choice"),
        (["export", "contacts", "-o", "/no/such/dir/x.csv"], "no such folder"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_non_zero(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path], args: list[str], expected: str
) -> None:
    csv_path = write_csv([contact(1)])
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02\x00" * 100)
    values = {
        "csv": str(csv_path),
        "bad_json": str(bad_json),
        "out": str(tmp_path / "o.csv"),
        "binary": str(binary),
    }
    code, _, err = run_cli(capsys, *[a.format(**values) for a in args])
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert "Traceback" not in err
    assert Customer.objects.count() == 0


def test_export_command_writes_every_contact(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    run_cli(capsys, "import", "contacts", str(write_csv([contact(i) for i in range(5)])), "--json")
    target = tmp_path / "out.csv"
    code, out, _ = run_cli(capsys, "export", "contacts", "--format", "csv", "-o", str(target))
    assert code == 0
    rows = read_csv(target)
    assert sorted(r["external_id"] for r in rows) == [f"X{i:05d}" for i in range(5)]
    # A phone is a value, not a formula: no apostrophe (issue 17.3).
    assert rows[0]["phone"].startswith("+33") and rows[0]["phone"][3:].isdigit()
    code, out, _ = run_cli(
        capsys,
        "export",
        "contacts",
        "-o",
        str(tmp_path / "fr.xlsx"),
        "--filter",
        "country=fr",
        "--json",
    )
    assert json.loads(out)["rows"] == 5


def test_owner_option_assigns_created_records(capsys: Any, write_csv: Callable[..., Path]) -> None:
    from rapport.identity.tests.factories import UserFactory

    seller = UserFactory(email="seller@example.com")
    path = write_csv([contact(1, organization="Acme")])
    code, out, _ = run_cli(
        capsys, "import", "contacts", str(path), "--owner", "SELLER@example.com", "--json"
    )
    assert code == 0 and json.loads(out)["created"] == 1
    assert set(Customer.objects.values_list("owner_id", flat=True)) == {seller.pk}


# --- errors and exit codes (docs/import-export.md, "Exit codes") -------------------------


def test_exit_codes_tell_done_usage_bad_input_and_failed_rows_apart(
    capsys: Any, write_csv: Callable[..., Path]
) -> None:
    good = write_csv([contact(1)], name="good.csv")
    code, _, _ = run_cli(capsys, "import", "contacts", str(good), "--dry-run")
    assert code == 0
    code, _, _ = run_cli(capsys, "import", "contacts", str(good), "--batch-size", "0")
    assert code == EXIT_USAGE
    code, _, _ = run_cli(capsys, "import", "contacts", str(good), "--map", "Nope=email")
    assert code == EXIT_BAD_INPUT
    rows = [contact(i) for i in range(1, 7)]
    for row in rows[1:]:
        row["email"] = "not-an-email"
    bad_rows = write_csv(rows, name="bad.csv")
    code, out, _ = run_cli(capsys, "import", "contacts", str(bad_rows), "--dry-run")
    assert code == EXIT_ROWS_FAILED
    assert "5 failed" in out
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "code", "kind", "status"),
    [
        (["import", "contacts", "{csv}", "--upsert-by", "phone"], EXIT_USAGE, "usage", 400),
        (["import", "contacts", "/no/such/file.csv"], EXIT_BAD_INPUT, "bad-input", 422),
        (["import", "contacts", "{csv}", "--map", "email=shoe"], EXIT_BAD_INPUT, "bad-input", 422),
        (["export", "contacts", "-o", "/no/such/dir/x.csv"], EXIT_USAGE, "usage", 400),
    ],
)
def test_json_errors_are_a_problem_object_on_stdout(
    capsys: Any,
    write_csv: Callable[..., Path],
    args: list[str],
    code: int,
    kind: str,
    status: int,
) -> None:
    csv_path = write_csv([contact(1)])
    got, out, err = run_cli(capsys, *[a.format(csv=csv_path) for a in args], "--json")
    assert got == code
    body = json.loads(out)  # stdout holds the problem and nothing else
    assert set(body) == {"type", "title", "status", "detail", "instance", "exit_code"}
    assert body["type"] == f"https://rapport.dev/problems/{kind}"
    assert (body["status"], body["exit_code"]) == (status, code)
    assert body["instance"] == f"rapport {args[0]}"
    assert body["detail"] and body["detail"] in err


def test_every_error_has_one_prefix(capsys: Any, write_csv: Callable[..., Path]) -> None:
    # A Django command's CommandError, a project command's bad input, a usage error.
    path = write_csv([contact(1)])
    for args in (
        ["migrate", "no_such_app"],
        ["imprt", "contacts", str(path)],
        ["import", "contacts", str(path), "--map", "Nope=email"],
        ["import", "contacts", str(path), "--frobnicate"],
    ):
        code, _, err = run_cli(capsys, *args)
        assert code != 0
        assert err.startswith("rapport: error: "), err
        assert "CommandError" not in err and err.count("error:") == 1, err


def test_help_lists_rapports_commands_first_with_one_line_each(capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "help")
    assert code == 0
    lines = out.splitlines()
    start = lines.index("Rapport's commands:")
    listed = lines[start + 1 : start + 1 + len(COMMANDS)]
    assert [line.split()[0] for line in listed] == list(COMMANDS)
    assert all(len(line.split()) > 2 and len(line) <= 88 for line in listed)
    assert out.index("Rapport's commands:") < out.index("migrate")


def test_the_list_of_rapports_commands_is_complete() -> None:
    from django.core.management import find_commands

    shipped = {
        name
        for app in (
            "core",
            "customers",
            "identity",
            "commerce",
            "dataquality",
            "dedupe",
            "analytics",
        )
        for name in find_commands(str(Path(__file__).parents[2] / app / "management"))
    }
    assert shipped == set(COMMANDS)


@pytest.mark.parametrize(
    "args",
    [
        ["dedupe", "--threshold", "1.5"],
        ["export", "contacts", "-o", "/no/such/dir/x.csv"],
        ["import", "contacts", "x.csv", "--batch-size", "0"],
        ["import", "people", "x.csv"],
    ],
)
def test_argument_errors_are_reported_before_django_sets_up(args: list[str]) -> None:
    import subprocess
    import sys

    probe = (
        "import sys, django.apps\n"
        "from rapport.config.cli import main\n"
        "try:\n"
        f"    main(['rapport', *{args!r}])\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, django.apps.apps.ready, 'splink' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.split() == [str(EXIT_USAGE), "False", "False"], done.stderr
    assert done.stderr.startswith("rapport: error: argument")


def test_a_command_line_import_is_recorded_through_the_service(
    capsys: Any, write_csv: Callable[..., Path]
) -> None:
    from rapport.dataquality.models import ImportRun, ImportStatus

    path = write_csv([contact(1), contact(2, email="bad@")])
    run_cli(capsys, "import", "contacts", str(path), "--json")
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.DONE and run.finished_at is not None
    assert (run.created, run.failed, run.total_rows) == (1, 1, 2)
    assert run.row_errors.count() == 1
    # A run that cannot start leaves no record.
    run_cli(capsys, "import", "contacts", str(path), "--map", "email=shoe")
    assert ImportRun.objects.count() == 1


def test_an_unknown_command_is_a_usage_error_with_a_suggestion(capsys: Any) -> None:
    code, _, err = run_cli(capsys, "imprt", "contacts", "x.csv")
    assert code == EXIT_USAGE
    assert (
        err
        == "rapport: error: unknown command 'imprt'; did you mean 'import'? (see rapport help)\n"
    )
