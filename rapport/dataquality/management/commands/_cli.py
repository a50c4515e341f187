"""Shared parts of `rapport import` and `rapport export`: argument types, progress.

Argument types check what they can before Django sets up (see rapport.config.cli), so a
wrong value is reported at once as a usage error."""

from __future__ import annotations

import sys
from argparse import ArgumentTypeError
from pathlib import Path
from typing import Any


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"invalid number {text!r}: use a whole number") from None
    if value < 1:
        raise ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def output_file(text: str) -> Path:
    """A file to write: its folder must exist (we do not create folders by surprise)."""
    path = Path(text)
    if path.is_dir():
        raise ArgumentTypeError(f"{path} is a folder; name the file to write")
    if not path.parent.is_dir():
        raise ArgumentTypeError(f"{path.parent}: no such folder")
    return path


def progress_bar(total: int | None, unit: str, enabled: bool) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True)
