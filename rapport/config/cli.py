"""The `rapport` console script: Django's management commands with Rapport's settings.

Every command's errors go through here: one line `rapport: error: …` on stderr (with
`--json`, also a problem object on stdout), never a traceback (`--traceback` shows one),
and the exit codes of `rapport.core.cli`. Rapport's own commands check their arguments
before Django sets up (seconds on a busy machine), so a typo is reported at once.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import textwrap
from typing import Any

from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
from django.core.management import ManagementUtility
from django.core.management.base import BaseCommand, CommandError

from rapport.core.cli import EXIT_FAILED, OneLineParser, UsageError, report

# Rapport's own commands, in the order `rapport help` lists them, and the app of each.
# A test checks this against the commands the apps ship.
COMMANDS = {
    "serve": "rapport.core",
    "worker": "rapport.core",
    "demo": "rapport.core",
    "import": "rapport.dataquality",
    "export": "rapport.dataquality",
    "rescore": "rapport.dataquality",
    "dedupe": "rapport.dedupe",
    "clv": "rapport.analytics",
    "recommend": "rapport.analytics",
}


class _Failed(Exception):
    """A command's CommandError, carried past Django's run_from_argv (which would print
    it as `CommandError: …`) to main(), which prints every error the same way."""


def _one_line_parsers(command: BaseCommand) -> BaseCommand:
    create_parser = command.create_parser
    execute = command.execute

    def create(prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = OneLineParser
        return parser

    def run(*args: Any, **options: Any) -> Any:
        try:
            return execute(*args, **options)
        except CommandError as exc:
            raise _Failed() from exc

    command.create_parser = create  # type: ignore[method-assign]
    command.execute = run  # type: ignore[method-assign]
    return command


class Utility(ManagementUtility):
    command: BaseCommand | None = None

    def fetch_command(self, subcommand: str) -> BaseCommand:
        from django.core.management import get_commands

        known = get_commands()
        if subcommand not in known:
            # Django would print its own two lines and exit 1; a typo is a usage error.
            close = difflib.get_close_matches(subcommand, known)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"unknown command {subcommand!r}{hint} (see rapport help)")
        self.command = _one_line_parsers(super().fetch_command(subcommand))
        return self.command

    def main_help_text(self, commands_only: bool = False) -> str:
        if commands_only:
            return super().main_help_text(commands_only=True)
        from django.core.management import get_commands, load_command_class

        lines = [
            "Usage: rapport <command> [options]",
            "       rapport <command> --help   (a command's options)",
            "",
            "Rapport's commands:",
        ]
        for name, app in COMMANDS.items():
            summary = " ".join(load_command_class(app, name).help.split())
            first = summary.split(". ")[0].rstrip(".") + "."
            lines.append(f"  {name:<9} {textwrap.shorten(first, width=76, placeholder='…')}")
        others = sorted(n for n in get_commands() if n not in COMMANDS)
        lines += ["", "Django's and its add-ons' commands (migrate, createsuperuser, check, …):"]
        lines += textwrap.wrap(
            ", ".join(others), width=86, initial_indent="  ", subsequent_indent="  "
        )
        lines += ["", "Exit codes: 0 done, 1 failed, 2 bad arguments, 3 bad input, 4 rows failed."]
        return "\n".join(lines)


def _check_arguments(argv: list[str]) -> None:
    """Parse a Rapport command's arguments before Django sets up: a bad one is reported
    at once. A command module that needs the app registry to import is parsed later."""
    name = argv[1] if len(argv) > 1 else ""
    app = COMMANDS.get(name)
    if app is None or {"-h", "--help"} & set(argv):
        return  # help is printed after set-up, complete
    try:
        module = importlib.import_module(f"{app}.management.commands.{name}")
    except (AppRegistryNotReady, ImproperlyConfigured):
        return
    command = _one_line_parsers(module.Command())
    command.create_parser(argv[0], name).parse_args(argv[2:])


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "rapport"
    command = argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ""
    utility = Utility(argv)
    try:
        _check_arguments(argv)
        utility.execute()
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        if "--traceback" in argv:
            raise
        cause = exc.__cause__ if isinstance(exc, _Failed) and exc.__cause__ else exc
        sys.exit(
            report(
                cause,
                command=command,
                as_json="--json" in argv,
                stdout=sys.stdout,
                stderr=sys.stderr,
            )
        )
    code = getattr(utility.command, "exit_code", 0)
    if code:
        sys.exit(code if isinstance(code, int) else EXIT_FAILED)


if __name__ == "__main__":
    main()
