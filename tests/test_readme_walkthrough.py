"""The README's walk-throughs (the CLI one and the curl one), run as written against
``odecast up`` (what ``make run`` starts).

Only the port and the training budget change: a free port instead of 8000, 5 s instead of 60 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from stack_helpers import clean_env, serving

from service.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def walkthrough(name: str, port: int) -> str:
    pattern = rf"<!-- {name}:start -->\n```sh\n(.*?)```\n<!-- {name}:end -->"
    match = re.search(pattern, (ROOT / "README.md").read_text(), re.S)
    assert match, f"README.md has no {name} block between its markers"
    script = match.group(1)
    assert "localhost:8000" in script and "--max-seconds 60" in script
    return script.replace("localhost:8000", f"localhost:{port}").replace(
        "--max-seconds 60", "--max-seconds 5"
    )


def run_block(name: str, port: int, folder: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough(name, port)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.mark.slow
def test_the_readme_walkthroughs_work_as_written(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env()
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    command = ["up", "--workers", "1", "--store", str(tmp_path / "store")]
    with serving(command, port, env) as service:
        cli = run_block("walkthrough", port, tmp_path, env)
        curl = run_block("walkthrough-curl", port, tmp_path, env)

    assert "succeeded" in cli and "lower_90" in cli
    assert "interpolation" in cli and "extrapolation" in cli
    assert "wrote oscillator-0.csv (602 rows" in cli
    assert cli.strip().splitlines()[-1].startswith("deleted model m-")

    assert '"status":"succeeded"' in curl and '"status":"ready"' in curl
    assert curl.count('"interpolation"') >= 2 and curl.count('"extrapolation"') >= 2
    assert '"90":{"lower"' in curl and '"0.05":' in curl
    assert curl.strip().splitlines()[-1] == "204"

    for picture in ("oscillator-0.png",):
        assert (tmp_path / picture).read_bytes().startswith(PNG_SIGNATURE)
    assert service.returncode == 0
