"""The store's guarantees on both backends: a local folder and S3-compatible object storage (a real
SeaweedFS server). Layout details of the local folder are in test_store.py."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models.checkpoint import (
    META_FILE,
    MODEL_FILE,
    CheckpointError,
    checkpoint_manifest,
    checkpoint_version,
    load_checkpoint,
    save_checkpoint,
)
from models.checkpoint_files import files_at
from models.series import parse_dataset
from models.store import (
    CorruptFileError,
    ModelRecord,
    ModelStatus,
    ModelStore,
    Store,
    UnknownModelError,
    new_record,
    open_store,
)
from models.store.s3 import S3Store
from service.embedded_redis import free_port


def dataset():
    return parse_dataset(
        [
            {"id": "a", "times": [0.5, 0.1, 2.0], "values": [[1.0, None], [2.0, 3.0], [None, 4.0]]},
            {"id": "b", "times": [1.0, 3.0], "values": [[0.1, 0.2], [0.3, 1e15]]},
        ]
    )


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        return str(request.getfixturevalue("s3_store_url"))
    return str(tmp_path / "store")


@pytest.fixture
def store(location: str) -> ModelStore:
    return open_store(location)


def overwrite(store: ModelStore, relative: str, data: bytes) -> None:
    """Put raw bytes at ``relative`` under the store's root, bypassing the store."""
    if isinstance(store, Store):
        path = store.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        assert isinstance(store, S3Store)
        store.root.write(relative, data)


def everything(store: ModelStore) -> list[str]:
    """Every file or object under the store's models."""
    if isinstance(store, Store):
        root = store.models_dir
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert isinstance(store, S3Store)
    return sorted(store.models.names())


def record(model_id: str, created_at: str = "2026-01-01", **changes: object) -> ModelRecord:
    """A queued model's record, as POST /fit writes it."""
    fresh = new_record(model_id, dataset(), {"model": {}}, job_id=f"j-{model_id}")
    return fresh.model_copy(update={"created_at": created_at, **changes})


def small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2).state_dict()


def test_backend_follows_the_location(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path), Store)
    assert isinstance(open_store("s3://bucket/some/prefix"), S3Store)
    assert open_store("s3://bucket/some/prefix/").url == "s3://bucket/some/prefix/"
    with pytest.raises(ValueError, match="not an S3 URL"):
        S3Store("s3:///prefix")


def test_models_round_trip(store: ModelStore) -> None:
    original = dataset()
    for i, created in enumerate(["2026-01-02", "2026-01-01", "2026-01-03"]):
        store.create_model(f"m{i}", record(f"m{i}", created), original)
    assert store.exists("m0") and not store.exists("m9")
    first = store.record("m0")
    assert (first.model_id, first.created_at, first.status) == ("m0", "2026-01-02", "queued")
    for before, after in zip(original.series, store.dataset("m0").series, strict=True):
        np.testing.assert_array_equal(before.values, after.values)  # NaN where missing
    before = store.record("m0")
    updated = store.update_record("m0", status=ModelStatus.READY, metrics={"mse": 0.1})
    assert updated.status is ModelStatus.READY and store.record("m0").metrics == {"mse": 0.1}
    assert store.record("m0") == updated and updated.updated_at > before.updated_at
    assert [r.model_id for r in store.records()] == ["m1", "m0", "m2"]


def test_a_version_keeps_its_own_data_set_and_checkpoints(store: ModelStore) -> None:
    """A refit's version n: its data set and checkpoints beside version 1's, none shared, and
    all gone with the model."""
    store.create_model("m", record("m"), dataset())
    later = parse_dataset(
        [{"id": "a", "times": [0.1, 0.5, 2.0, 4.0], "values": [1.0, 2.0, 3.0, 4.0]}]
    )
    store.add_version("m", 2, later)
    assert [len(s) for s in store.dataset("m", 2).series] == [4]
    assert [len(s) for s in store.dataset("m").series] == [3, 2]  # version 1's, as it was
    save_checkpoint(store.trained_dir("m", 2), model=small_state(), optimizer=None, meta={})
    assert checkpoint_version(store.trained_dir("m", 2)) == 1
    assert checkpoint_version(store.trained_dir("m")) is None
    assert any(name.startswith("m/versions/2/") for name in everything(store))
    with pytest.raises(UnknownModelError):
        store.add_version("nope", 2, later)
    with pytest.raises(ValueError, match="first fit"):
        store.add_version("m", 1, later)
    assert store.delete_model("m") and everything(store) == []


def test_a_computed_change_sees_the_record_it_changes(store: ModelStore) -> None:
    store.create_model("m", record("m"), dataset())
    store.update_record("m", metrics={"n": 1.0})
    changed = store.change_record("m", lambda r: {"metrics": {"n": r.metrics["n"] + 1}})
    assert changed.metrics == {"n": 2.0} == store.record("m").metrics


def _set_keys(location: str, writer: int, rounds: int) -> None:
    store = open_store(location)
    for n in range(rounds):
        store.update_record("m", **{f"w{writer}_{n}": n})


def test_concurrent_updates_from_several_processes_lose_nothing(
    store: ModelStore, location: str
) -> None:
    store.create_model("m", record("m"), dataset())
    context = multiprocessing.get_context("fork")
    rounds = 15
    writers = [context.Process(target=_set_keys, args=(location, i, rounds)) for i in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in writers] == [0, 0, 0]
    assert len(store.record("m").model_extra or {}) == 3 * rounds


def test_delete_removes_everything_and_no_update_brings_it_back(store: ModelStore) -> None:
    store.create_model("m", record("m"), dataset())
    save_checkpoint(store.trained_dir("m"), model=small_state(), optimizer=None, meta={})
    assert store.delete_model("m") is True
    assert everything(store) == []
    assert store.delete_model("m") is False
    with pytest.raises(UnknownModelError, match="no model 'm'"):
        store.record("m")
    with pytest.raises(UnknownModelError):
        store.update_record("m", status=ModelStatus.READY)  # a worker ending after the delete
    assert not store.exists("m") and store.records() == []


def test_what_a_job_writes_after_a_delete_is_discarded(store: ModelStore) -> None:
    store.create_model("m", record("m"), dataset())
    store.create_model("kept", record("kept"), dataset())
    store.delete_model("m")
    save_checkpoint(store.training_dir("m"), model=small_state(), optimizer=None, meta={})
    assert not store.exists("m")  # a checkpoint does not make a model
    store.discard_remains("m")
    store.discard_remains("kept")  # a model that exists keeps everything
    assert [name.split("/")[0] for name in everything(store)] == ["kept", "kept"]


def test_an_existing_model_is_never_overwritten(store: ModelStore) -> None:
    store.create_model("m", record("m", name="first"), dataset())
    with pytest.raises(FileExistsError):
        store.create_model("m", record("m", name="second"), dataset())
    assert store.record("m").name == "first"


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", ".hidden", "x" * 65, "m.json", "a\x00"])
def test_ids_that_could_escape_the_store_are_refused(store: ModelStore, bad: str) -> None:
    for call in (store.record, store.exists, store.delete_model, store.trained_dir):
        with pytest.raises(ValueError, match="not valid"):
            call(bad)
    with pytest.raises(ValueError):
        store.create_model(bad, record("m"), dataset())
    assert everything(store) == []


def test_damaged_files_are_named_and_hide_no_other_model(store: ModelStore) -> None:
    store.create_model("good", record("good", "1"), dataset())
    store.create_model("bad", record("bad", "2"), dataset())
    overwrite(store, "models/bad/record.json", b'{"truncated": ')
    overwrite(store, "models/bad/dataset.json", b'{"format": "pickle"}')
    with pytest.raises(CorruptFileError, match=r"record\.json of model 'bad'"):
        store.record("bad")
    with pytest.raises(CorruptFileError, match="not an odecast data set"):
        store.dataset("bad")
    assert [r.model_id for r in store.records()] == ["good"]
    assert store.record("good").model_id == "good"
    overwrite(store, "models/bad/record.json", b'{"model_id": "bad", "status": "lost"}')
    with pytest.raises(
        CorruptFileError, match=r"record\.json of model 'bad': status: Input should be"
    ):
        store.record("bad")


def test_checkpoints_round_trip_with_versions(store: ModelStore) -> None:
    store.create_model("m", record("m"), dataset())
    place = store.training_dir("m")
    assert checkpoint_version(place) is None
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    for step in (1, 2, 3):
        save_checkpoint(place, model=net.state_dict(), optimizer=optimizer.state_dict(), meta={})
        assert checkpoint_version(place) == step
    loaded = load_checkpoint(place)
    assert loaded.version == 3 and loaded.optimizer is not None
    assert torch.equal(loaded.model["weight"], net.weight.detach())
    store.remove_training("m")
    assert checkpoint_version(place) is None and store.exists("m")


def test_a_damaged_checkpoint_is_named(store: ModelStore) -> None:
    store.create_model("m", record("m"), dataset())
    place = store.trained_dir("m")
    save_checkpoint(place, model=small_state(), optimizer=None, meta={})
    files = files_at(place)
    stored = [name for name in _names(place) if name.startswith("model")]
    (tensor_file,) = stored
    overwrite(store, f"models/m/trained/{tensor_file}", files.read(tensor_file)[:-3] + b"abc")
    with pytest.raises(CheckpointError, match=rf"{tensor_file}: SHA-256 does not match"):
        load_checkpoint(place)
    overwrite(store, f"models/m/trained/{META_FILE}", b"{not json")
    with pytest.raises(CheckpointError, match=META_FILE):
        checkpoint_version(place)


def test_a_kept_manifest_saves_reading_meta_json(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record's copy of meta.json (what the API loads a model with) is read instead of it."""
    place = store.trained_dir("m")
    save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 1})
    manifest = checkpoint_manifest(place)
    assert manifest is not None and manifest["version"] == checkpoint_version(place) == 1
    files = files_at(place)
    real_read, read = type(files).read, []

    def counted(self: object, name: str) -> bytes:
        read.append(name)
        return real_read(self, name)  # type: ignore[arg-type]

    monkeypatch.setattr(type(files), "read", counted)
    loaded = load_checkpoint(place, manifest=manifest)
    assert loaded.meta == {"step": 1} and loaded.version == 1
    assert META_FILE not in read and len(read) == 1
    assert torch.equal(loaded.model["weight"], small_state()["weight"])


@pytest.mark.parametrize("stale", ["older version", "damaged copy"])
def test_a_stale_or_damaged_manifest_defers_to_meta_json(store: ModelStore, stale: str) -> None:
    place = store.trained_dir("m")
    save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 1})
    manifest = checkpoint_manifest(place)
    assert manifest is not None
    newer = torch.nn.Linear(3, 2).state_dict()
    save_checkpoint(place, model=newer, optimizer=None, meta={"step": 2})
    if stale == "damaged copy":
        manifest = checkpoint_manifest(place)
        assert manifest is not None
        manifest["files"][MODEL_FILE]["object"] = "../../elsewhere/model.safetensors"
    loaded = load_checkpoint(place, manifest=manifest)
    assert loaded.version == 2 and loaded.meta == {"step": 2}
    assert torch.equal(loaded.model["weight"], newer["weight"])


def _names(place: object) -> list[str]:
    if isinstance(place, Path):
        return sorted(p.name for p in place.iterdir())
    return sorted(place.names())  # type: ignore[attr-defined]


def test_object_checkpoints_are_versioned_and_old_versions_removed(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    place = store.trained_dir("m")
    for _ in range(3):
        save_checkpoint(place, model=small_state(), optimizer=None, meta={})
    assert _names(place) == [META_FILE, "model.v3.safetensors"]


def test_a_save_that_dies_before_its_commit_leaves_the_last_checkpoint(
    s3_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    place = open_store(s3_store_url).trained_dir("m")
    save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 1})
    real_write = type(place).write

    def die_at_commit(folder: object, name: str, data: bytes, **conditions: object) -> None:
        if name == META_FILE:
            raise OSError("simulated crash")
        real_write(folder, name, data, **conditions)  # type: ignore[arg-type]

    monkeypatch.setattr(type(place), "write", die_at_commit)
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 2})
    monkeypatch.setattr(type(place), "write", real_write)
    assert load_checkpoint(place).meta == {"step": 1}  # version 2's tensors are not committed
    save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 3})
    assert load_checkpoint(place).version == 2
    assert _names(place) == [META_FILE, "model.v2.safetensors"]  # the orphan went too


def test_a_reader_whose_version_is_removed_meanwhile_reads_the_new_one(
    s3_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    place = open_store(s3_store_url).trained_dir("m")
    save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 1})
    files = files_at(place)
    real_read = type(files).read

    def read_while_a_save_lands(self: object, name: str) -> bytes:
        if name.startswith("model") and checkpoint_version(place) == 1:
            save_checkpoint(place, model=small_state(), optimizer=None, meta={"step": 2})
        return real_read(self, name)  # type: ignore[arg-type]

    monkeypatch.setattr(type(files), "read", read_while_a_save_lands)
    assert load_checkpoint(place).meta == {"step": 2}


def test_meta_json_cannot_point_a_reader_anywhere_else(s3_store_url: str) -> None:
    import json

    store = open_store(s3_store_url)
    place = store.trained_dir("m")
    save_checkpoint(place, model=small_state(), optimizer=None, meta={})
    record = json.loads(files_at(place).read(META_FILE))
    record["files"][MODEL_FILE]["object"] = "../../other/trained/model.v1.safetensors"
    overwrite(store, f"models/m/trained/{META_FILE}", json.dumps(record).encode())
    with pytest.raises(CheckpointError, match=r"object must be model\[\.vN\]\.safetensors"):
        load_checkpoint(place)


def test_a_usable_store_is_ready(store: ModelStore) -> None:
    assert store.problem() is None


def test_readiness_names_what_is_wrong_with_an_object_store(
    s3_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing_bucket = open_store("s3://no-such-bucket-odecast/x")
    assert "no-such-bucket-odecast" in (missing_bucket.problem() or "")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    assert "is the object store up" in (open_store(s3_store_url).problem() or "")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert "no credentials" in (open_store(s3_store_url).problem() or "")


def test_a_local_store_needs_neither_torch_nor_boto3() -> None:
    code = "import sys, models.store; print('torch' in sys.modules, 'boto3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False False", result.stderr


def test_records_keep_keys_they_do_not_know(store: ModelStore) -> None:
    store.create_model("m", record("m"), dataset())
    store.update_record("m", added_by_a_later_release={"x": 1})
    updated = store.update_record("m", status=ModelStatus.TRAINING)
    assert updated.model_extra == {"added_by_a_later_release": {"x": 1}}
    assert store.record("m").to_json()["added_by_a_later_release"] == {"x": 1}


def test_a_hung_object_store_costs_two_calls_of_15_s_not_four_of_60(monkeypatch) -> None:
    """botocore's ``max_attempts`` counts retries: a server that never answered held every
    store request 4 x 60 s, predictions of cached models included."""
    from models.store.s3_objects import _new_client

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    config = _new_client().meta.config
    assert config.read_timeout == 15 and config.retries["total_max_attempts"] == 2
