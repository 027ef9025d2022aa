"""The README's walk-through, run as written against ``odecast up`` (what ``make run`` starts).

Only the port and the training budget change: a free port instead of 8000, 5 s instead of 60 s.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from stack_data import wait_healthy

from service.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", re.S)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def walkthrough(port: int) -> str:
    match = BLOCK.search((ROOT / "README.md").read_text())
    assert match, "README.md has no walk-through block between its markers"
    script = match.group(1)
    assert "localhost:8000" in script and "--max-seconds 60" in script
    return script.replace("localhost:8000", f"localhost:{port}").replace(
        "--max-seconds 60", "--max-seconds 5"
    )


@pytest.mark.slow
def test_the_readme_walkthrough_works_as_written(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ODECAST_")}
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    service = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "up", "--port", str(port), "--workers", "1",
         "--store", str(tmp_path / "store")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_healthy(port, service, timeout=90)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        service.send_signal(signal.SIGINT)
        try:
            service.wait(90)
        except subprocess.TimeoutExpired:
            service.kill()
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert '"status":"succeeded"' in out
    assert '"status":"ready"' in out
    assert out.count('"interpolation"') >= 2 and out.count('"extrapolation"') >= 2
    assert '"90":{"lower"' in out and '"0.05":' in out
    assert (tmp_path / "oscillator-0.png").read_bytes().startswith(PNG_SIGNATURE)
    assert out.strip().splitlines()[-1] == "204"
    assert service.returncode == 0
