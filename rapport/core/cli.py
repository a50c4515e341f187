"""What every `rapport` command shares on the command line: exit codes, the error types
that choose them, one-line argument errors, and the problem object `--json` prints.

Light on purpose: `rapport.config.cli` imports it (and the project's command modules)
before Django sets up, so that a bad argument is reported at once.
See docs/decisions/0740-cli-errors-and-exit-codes.md.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn, TextIO

from django.core.management.base import CommandError, CommandParser

# The exit codes, documented in docs/import-export.md ("Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # the command could not run: a database down, a bug
EXIT_USAGE = 2  # bad arguments: nothing was done (argparse's own convention)
EXIT_BAD_INPUT = 3  # the file, mapping or another input cannot be used: nothing was written
EXIT_ROWS_FAILED = 4  # finished, but some rows failed (they are in the report)

# The problem object's fields are the API's (RFC 9457, see core.api.problem); `status` is
# the HTTP status the API would answer for the same fault, `exit_code` the process's.
_PROBLEMS = {
    EXIT_USAGE: ("usage", "Invalid arguments", 400),
    EXIT_BAD_INPUT: ("bad-input", "Bad input", 422),
    EXIT_FAILED: ("internal", "The command failed", 500),
}
PROBLEM_TYPE_BASE = "https://rapport.dev/problems/"


class UsageError(CommandError):
    """An argument that is missing, unknown or of the wrong type or range."""

    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=EXIT_USAGE)


class BadInput(CommandError):
    """Input the command cannot use (a file, a mapping, an unknown user): nothing written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, returncode=EXIT_BAD_INPUT)


class OneLineParser(CommandParser):
    """argparse prints the usage and then the error, and exits; we raise, and the
    entry point prints one line (or the problem object) and exits with EXIT_USAGE."""

    def error(self, message: str) -> NoReturn:
        # "argument --port: --port must be …" says the option's name once.
        message = re.sub(r"^argument (\S+): \1 ", r"\1 ", message)
        raise UsageError(f"{message} (see rapport {self._subcommand()} --help)")

    def _subcommand(self) -> str:
        return self.prog.removeprefix("rapport ").strip() or "help"


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, CommandError):
        code = exc.returncode
        # Django's own commands raise CommandError for what is wrong in their input.
        return EXIT_BAD_INPUT if code == 1 else code
    return EXIT_FAILED


def message_of(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Django's CommandParser (a parser not ours) prefixes its messages with "Error: ".
    return text.removeprefix("Error: ")


def problem(*, code: int, detail: str, command: str) -> dict[str, Any]:
    kind, title, status = _PROBLEMS.get(code, _PROBLEMS[EXIT_FAILED])
    return {
        "type": PROBLEM_TYPE_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"rapport {command}".strip(),
        "exit_code": code,
    }


def report(
    exc: BaseException, *, command: str, as_json: bool, stdout: TextIO, stderr: TextIO
) -> int:
    """Print the error once (`rapport: error: …` on stderr; with --json the problem object
    on stdout as well) and return the exit code."""
    code = exit_code_of(exc)
    detail = message_of(exc)
    if as_json:
        body = problem(code=code, detail=detail, command=command)
        stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
        stdout.flush()
    stderr.write(f"rapport: error: {detail}\n")
    return code
