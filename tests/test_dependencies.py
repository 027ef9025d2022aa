"""What the service imports is installed by ``pip install .``: every third-party package that
``models``, ``service`` and ``worker`` import is a main dependency in pyproject.toml (the Docker
image installs no extra), or one that a main dependency brings, or optional on purpose."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "service", "worker")
# Imported, not listed: what a listed dependency brings with it.
BROUGHT = {"botocore": "boto3", "starlette": "fastapi"}
# Imported only where a user asks for it, and said so where it is.
OPTIONAL = {"pandas": "Prediction.to_frame() of the Python client"}


def main_dependencies() -> set[str]:
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_normal(re.split(r"[<>=!~;\[ ]", entry)[0]) for entry in listed}


def imported_modules() -> dict[str, str]:
    """Top-level third-party module -> a file that imports it."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in PACKAGES:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def test_every_imported_package_is_installed_by_a_plain_install() -> None:
    listed = main_dependencies()
    distributions = packages_distributions()
    missing = []
    for module, where in imported_modules().items():
        if module in OPTIONAL or BROUGHT.get(module) in listed:
            continue
        if not {_normal(d) for d in distributions.get(module, [module])} & listed:
            missing.append(f"{module} (imported by {where})")
    assert missing == [], "add to [project] dependencies in pyproject.toml"


def test_the_scan_finds_the_packages_imports() -> None:
    assert {"torch", "rq", "fastapi", "scipy", "boto3"} <= set(imported_modules())
