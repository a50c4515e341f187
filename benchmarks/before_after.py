"""Benchmark two revisions in one run and print their figures side by side.

    .venv/bin/python benchmarks/before_after.py --before beefe26 --after HEAD
    .venv/bin/python benchmarks/before_after.py --before beefe26 --only import,api

Each revision is checked out into its own temporary git worktree and run with the same
virtual environment (this checkout's `.venv`), with `PYTHONPATH` pointing at that worktree
so that its `rapport` package (and the `rapport serve` process the API benchmark starts)
is the one measured. Every benchmark builds its own fresh SQLite database per revision.

The benchmarks, run before/after in turn (so that drift in the machine's load hits both):
- import: `import_contacts --rows N` (contacts CSV into an empty database);
- pages: `customers_pages --customers N --interactions M` (search, list and 360 pages);
- api: `api_persons --customers N` (GET /api/v1/persons against a real server).

On a shared machine, compare the CPU figures (rows per CPU-second, server CPU per
request) first: wall-clock figures include waiting for a CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass
class Side:
    label: str
    ref: str
    tree: Path
    figures: dict[str, float] = field(default_factory=dict)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _run(side: Side, scratch: Path, name: str, command: list[str]) -> str:
    """Run one benchmark command in the side's worktree; return (and keep) its output."""
    var = scratch / f"{side.label}-{name}-var"
    var.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(side.tree),
        "RAPPORT_VAR_DIR": str(var),
        "PATH": f"{PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("DATABASE_URL", None)
    print(f"-- {name} on {side.label} ({side.ref})", flush=True)
    done = subprocess.run(
        [str(PYTHON), *command], cwd=side.tree, env=env, capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    (scratch / f"{side.label}-{name}.log").write_text(output)
    if done.returncode:
        raise SystemExit(f"{name} failed on {side.label}:\n{output[-3000:]}")
    return output


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _import_figures(output: str) -> dict[str, float]:
    figures = {}
    if m := re.search(r"import time: ([\d.]+) s\s+->\s+([\d,]+) rows/s", output):
        figures["import: wall time (s)"] = _number(m[1])
        figures["import: rows/s"] = _number(m[2])
    if m := re.search(r"\(this process\): [\d.]+ s\s+->\s+([\d,]+) rows/CPU-s", output):
        figures["import: rows per CPU-s (importing process)"] = _number(m[1])
    if m := re.search(r"all processes: [\d.]+ s\s+->\s+([\d,]+) rows/CPU-s", output):
        figures["import: rows per CPU-s (all processes)"] = _number(m[1])
    return figures


def _page_figures(output: str) -> dict[str, float]:
    figures = {}
    pattern = r"^(\S.{0,33}?)\s+p50\s+([\d.]+)\s+p95\s+([\d.]+)\s+queries (\d+)"
    for m in re.finditer(pattern, output, re.MULTILINE):
        figures[f"page p95 ms: {m[1].strip()}"] = _number(m[3])
        figures[f"page queries: {m[1].strip()}"] = _number(m[4])
    return figures


def _api_figures(output: str) -> dict[str, float]:
    figures = {}
    if m := re.search(r"([\d.]+) requests/s, [\d,]+ requests.*?p95 ([\d.]+) ms", output):
        figures["api: requests/s"] = _number(m[1])
        figures["api: p95 ms"] = _number(m[2])
    if m := re.search(r"server CPU ([\d.]+) ms per request", output):
        figures["api: server CPU ms per request"] = _number(m[1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="A git revision, e.g. a commit.")
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--only", default="import,pages,api")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--api-customers", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="Keep the worktrees and logs.")
    args = parser.parse_args()
    wanted = set(args.only.split(","))

    scratch = Path(tempfile.mkdtemp(prefix="rapport-before-after-"))
    sides = []
    for label, ref in (("before", args.before), ("after", args.after)):
        commit = _git("rev-parse", "--short", ref)
        tree = scratch / label
        _git("worktree", "add", "--detach", str(tree), commit)
        # The API benchmark starts `<its root>/.venv/bin/rapport`: share this checkout's.
        (tree / ".venv").symlink_to(PYTHON.parent.parent)
        sides.append(Side(label, commit, tree))
    try:
        for side in sides if "import" in wanted else []:
            output = _run(
                side,
                scratch,
                "import",
                ["-m", "benchmarks.import_contacts", "--rows", str(args.rows)],
            )
            side.figures |= _import_figures(output)
        for side in sides if "pages" in wanted else []:
            command = [
                "benchmarks/customers_pages.py",
                f"--customers={args.customers}",
                f"--interactions={args.interactions}",
                f"--repeat={args.repeat}",
            ]
            side.figures |= _page_figures(_run(side, scratch, "pages", command))
        for side in sides if "api" in wanted else []:
            command = [
                "benchmarks/api_persons.py",
                f"--customers={args.api_customers}",
                f"--duration={args.duration}",
                f"--var={scratch / (side.label + '-api-db')}",
            ]
            side.figures |= _api_figures(_run(side, scratch, "api", command))
    finally:
        if not args.keep:
            for side in sides:
                _git("worktree", "remove", "--force", str(side.tree))
    before, after = sides
    print(
        f"\nbefore = {before.ref}, after = {after.ref}; load average now {os.getloadavg()[0]:.2f}"
    )
    print(f"{'figure':62} {'before':>10} {'after':>10} {'change':>8}")
    for name, old in before.figures.items():
        new = after.figures.get(name)
        if new is None:
            print(f"{name:62} {old:10,.1f} {'—':>10}")
            continue
        change = f"{(new - old) / old * 100:+.0f}%" if old else ""
        print(f"{name:62} {old:10,.1f} {new:10,.1f} {change:>8}")
    print(f"logs: {scratch}" if args.keep else "")


if __name__ == "__main__":
    sys.exit(main())
