"""The `rapport` console script: Django's management commands with Rapport's settings.

Project commands report bad input as one clear line and a non-zero exit, never a
traceback; `--traceback` shows one for debugging.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "rapport"
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        if "--traceback" in argv:
            raise
        print(f"rapport: error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
