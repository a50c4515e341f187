"""Set-up as a user meets it: `make run PORT=…`, the demo load's progress."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from rapport.core import registry

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_run_takes_a_port_and_a_host() -> None:
    planned = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "serve", "PORT=8105", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "rapport serve --host 0.0.0.0 --port 8105" in planned
    default = subprocess.run(
        ["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--host 127.0.0.1 --port 8000" in default


def test_the_demo_load_says_what_it_is_loading_as_it_goes(monkeypatch: Any) -> None:
    out = io.StringIO()
    seen: list[str] = []

    def loader(key: str) -> registry.DemoLoader:
        def load(stdout: Any = None) -> str:
            seen.append(out.getvalue())  # what was printed before this loader ran
            return f"{key} loaded"

        return registry.DemoLoader(key=key, load=load)

    monkeypatch.setattr(registry, "demo_loaders", lambda: [loader("people"), loader("orders")])
    call_command("demo", stdout=out)
    assert seen[0].rstrip().endswith("Demo data [1/2] people…")
    assert seen[1].rstrip().endswith("Demo data [2/2] orders…")
    assert "people loaded" in seen[1]
    assert "Demo data ready" in out.getvalue()


def test_a_long_demo_step_says_it_is_still_at_work(monkeypatch: Any) -> None:
    from rapport.core.management.commands import demo

    out = io.StringIO()
    ticked = __import__("threading").Event()

    def load(stdout: Any = None) -> str:
        # Returns once the command has said at least once that this step is still running.
        assert ticked.wait(10)
        return "slow loaded"

    class Watch(io.StringIO):
        def write(self, text: str) -> int:
            if "… slow:" in text:
                ticked.set()
            return out.write(text)

    monkeypatch.setattr(demo, "STILL_WORKING_EVERY", 0.05)
    monkeypatch.setattr(
        registry, "demo_loaders", lambda: [registry.DemoLoader(key="slow", load=load)]
    )
    call_command("demo", stdout=Watch())
    text = out.getvalue()
    assert text.index("[1/1] slow…") < text.index("… slow:") < text.index("slow loaded")
