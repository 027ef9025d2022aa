"""``bench/forecast_policy.py`` with ``models.seasons.MIN_CYCLES`` (how many times a season must
repeat over a series to be found) set to the first argument: whether a season seen 2.5 times is
evidence enough.

    .venv/bin/python bench/experiments/evidence-units/season_cycles.py 3 --policies default
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this tree's models
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/

import models.seasons as seasons

if __name__ == "__main__":
    seasons.MIN_CYCLES = float(sys.argv.pop(1))
    import forecast_policy

    sys.exit(forecast_policy.main(sys.argv[1:]))
