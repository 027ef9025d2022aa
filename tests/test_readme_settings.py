"""The settings table (docs/settings.md) lists every setting, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_in_the_readme_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(ODECAST_[A-Z_]+)` \| `([^`]*)` \|", DOC.read_text(), re.M))
    expected = {
        f"ODECAST_{name.upper()}": str(f.default) for name, f in Settings.model_fields.items()
    }
    assert rows == expected
