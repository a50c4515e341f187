"""`rapport dedupe` checks its arguments before the engine is imported: its default must
stay the engine's."""

from __future__ import annotations

import importlib

from rapport.dedupe import engine


def test_the_commands_default_threshold_is_the_engines() -> None:
    command = importlib.import_module("rapport.dedupe.management.commands.dedupe")
    assert command.DEFAULT_THRESHOLD == engine.DEFAULT_THRESHOLD
    parser = command.Command().create_parser("rapport", "dedupe")
    assert parser.parse_args([]).threshold == engine.DEFAULT_THRESHOLD
