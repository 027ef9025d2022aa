"""The model store: layout, atomic whole-folder creation and removal, id rules, records."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from models.atomic import write_atomic
from models.series import TimeKind, parse_dataset
from models.store import (
    Store,
    UnknownModelError,
    check_id,
    dataset_from_json,
    dataset_to_json,
    new_id,
    new_record,
)


def dataset():
    return parse_dataset(
        [
            {"id": "a", "times": [0.5, 0.1, 2.0], "values": [[1.0, None], [2.0, 3.0], [None, 4.0]]},
            {"id": "b", "times": [1.0, 3.0], "values": [[0.1, 0.2], [0.3, 1e15]]},
        ]
    )


def test_a_model_folder_holds_its_record_and_data_set(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_model("m-1", new_record("m-1", dataset(), {}), dataset())
    folder = tmp_path / "models" / "m-1"
    assert sorted(p.name for p in folder.iterdir()) == ["dataset.json", "record.json"]
    assert store.record("m-1").status == "queued"
    assert store.exists("m-1") and not store.exists("m-2")
    assert store.training_dir("m-1") == folder / "training"
    assert store.trained_dir("m-1") == folder / "trained"


def test_data_sets_round_trip_exactly_with_missing_values(tmp_path: Path) -> None:
    original = dataset()
    store = Store(tmp_path)
    store.create_model("m", new_record("m", original, {}), original)
    loaded = store.dataset("m")
    assert loaded.time_kind is TimeKind.NUMERIC
    for before, after in zip(original.series, loaded.series, strict=True):
        assert before.id == after.id
        np.testing.assert_array_equal(before.times, after.times)
        np.testing.assert_array_equal(before.values, after.values)  # NaN == NaN here
    raw = dataset_to_json(original)
    assert raw["series"][0]["values"][0] == [2.0, 3.0]  # sorted by time
    assert raw["series"][0]["values"][1] == [1.0, None]
    assert math.isnan(dataset_from_json(raw).series[0].values[1, 1])


def test_delete_removes_everything_and_reports_missing_models(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_model("m", new_record("m", dataset(), {}), dataset())
    (store.trained_dir("m")).mkdir()
    (store.trained_dir("m") / "model.safetensors").write_bytes(b"x")
    assert store.delete_model("m") is True
    assert list((tmp_path / "models").iterdir()) == []
    assert store.delete_model("m") is False
    with pytest.raises(UnknownModelError, match="no model 'm'"):
        store.record("m")
    with pytest.raises(UnknownModelError):
        store.update_record("m", status="ready")


def test_a_delete_waits_for_a_record_update_under_way(tmp_path: Path) -> None:
    """A job cancelled while its model is deleted updates the record under its lock; the delete
    renamed the folder under it, and the update's write failed with ENOENT (a 500)."""
    store = Store(tmp_path)
    store.create_model("m", new_record("m", dataset(), {}), dataset())
    locked, written = threading.Event(), []

    def update_slowly() -> None:
        with store.lock("m"):
            locked.set()
            time.sleep(0.3)
            write_atomic(store.model_dir("m") / "record.json", b"{}")  # what update_record does
            written.append(True)

    updater = threading.Thread(target=update_slowly)
    updater.start()
    locked.wait()
    assert store.delete_model("m") is True
    updater.join()
    assert written == [True]
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize(
    "bad", ["", "../etc", "a/b", "a b", ".hidden", "x" * 65, "é", "a\x00", "..", "m.json"]
)
def test_ids_that_could_escape_the_store_are_refused(tmp_path: Path, bad: str) -> None:
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="not valid"):
        store.model_dir(bad)
    with pytest.raises(ValueError):
        store.create_model(bad, new_record("m", dataset(), {}), dataset())
    with pytest.raises(ValueError):
        store.delete_model(bad)
    assert not (tmp_path / "etc").exists()


def test_new_ids_are_valid_and_distinct() -> None:
    ids = {new_id("m") for _ in range(100)}
    assert len(ids) == 100
    assert all(check_id(i) == i and i.startswith("m-") for i in ids)


def test_leftovers_of_a_crash_are_ignored_then_removed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_model("m", new_record("m", dataset(), {}), dataset())
    (tmp_path / "models" / ".tmp-x-1234").mkdir()
    (tmp_path / "models" / ".trash-y-5678").mkdir()
    assert [r.model_id for r in store.records()] == ["m"]
    store.remove_leftovers()  # a create or a delete under way elsewhere, for all it knows
    assert len(list((tmp_path / "models").iterdir())) == 3
    hour_ago = time.time() - 3601
    for name in (".tmp-x-1234", ".trash-y-5678"):
        os.utime(tmp_path / "models" / name, (hour_ago, hour_ago))
    store.remove_leftovers()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["m"]


def test_writability_probe(tmp_path: Path) -> None:
    assert Store(tmp_path / "new").is_writable()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert not Store(blocker).is_writable()


def test_the_store_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, models.store; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
