"""An import whose process is killed (SIGKILL) mid-import leaves no process behind: its
validation worker and the multiprocessing resource tracker exit within seconds. Both ways
an import runs: `rapport import contacts`, and an import job in `rapport worker`.

Runs Rapport in subprocesses against its own database, as test_worker_restart does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import HEADER
from .rapport_subprocess import migrated_env, queue_contact_import

ROWS = 30_000

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None once it is gone. A zombie is gone: it
    has exited and only waits to be reaped by whoever adopted it."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == parent:
                found.add(int(entry.name))
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return "(gone)"


@pytest.mark.parametrize("runner", ["cli", "worker"])
def test_killed_import_leaves_no_child_process(tmp_path: Path, runner: str) -> None:
    env = migrated_env(
        tmp_path,
        "children",
        IMPORT_BATCH_SIZE="200",
        IMPORT_PARALLEL_AFTER_ROWS="500",
        IMPORT_VALIDATION_PROCESSES="1",
    )
    source = tmp_path / "contacts.csv"
    lines = [",".join(HEADER)]
    lines += [f"C{i:06d},Pat,Doe{i},p{i}@example.com,,,,,,,,,FR," for i in range(1, ROWS + 1)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    if runner == "cli":
        command = ["import", "contacts", str(source), "--json"]
    else:
        queue_contact_import(env, source)
        command = ["worker", "--interval", "0.2"]
    log = (tmp_path / "import.log").open("wb")
    parent = subprocess.Popen(
        [sys.executable, "-m", "rapport.config.cli", *command],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: the test can clean up whatever is left
    )
    try:
        # Mid-import: the validation worker and the resource tracker are both running.
        # A child caught between fork and exec still shows its parent's command line, so
        # wait for the two children by what they run, not by their number.
        def running() -> str:
            return " | ".join(_command(pid) for pid in _children(parent.pid))

        deadline = time.monotonic() + 120
        commands = running()
        while (
            not ("resource_tracker" in commands and "spawn_main" in commands)
            and parent.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
            commands = running()
        assert parent.poll() is None, "the import ended before it was killed; raise ROWS"
        children = _children(parent.pid)
        assert "resource_tracker" in commands, commands
        assert "spawn_main" in commands, commands  # the validation worker

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)

        deadline = time.monotonic() + 10
        alive = {pid for pid in children if _stat(pid) is not None}
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = {pid for pid in alive if _stat(pid) is not None}
        assert not alive, {pid: _command(pid) for pid in alive}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        log.close()
