"""Shared parts of `rapport import` and `rapport export`: one-line errors, progress."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser


class OneLineParser(CommandParser):
    """argparse prints the usage and then the error; we print one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        if getattr(self, "called_from_command_line", False):
            sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
            sys.exit(2)
        super().error(message)
        raise AssertionError("unreachable")  # CommandParser.error raises CommandError


class OneLineCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = OneLineParser
        return parser


def progress_bar(total: int | None, unit: str, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True)
