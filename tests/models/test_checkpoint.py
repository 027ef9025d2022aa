"""Checkpoints: exact round trips, resume equivalence, atomic saves, and corrupt input refused."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from models.checkpoint import (
    META_FILE,
    MODEL_FILE,
    OPTIMIZER_FILE,
    TMP_PREFIX,
    Checkpoint,
    CheckpointError,
    checkpoint_version,
    load_checkpoint,
    save_checkpoint,
)
from models.checkpoint_files import LocalFiles


class Net(torch.nn.Module):
    """A GRU read out by a linear layer: the shape of the latent ODE's encoder."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(3, 8, batch_first=True, dtype=dtype)
        self.out = torch.nn.Linear(8, 2, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(x)[0][:, -1])


def make_batch(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4, 5, 3, generator=generator, dtype=dtype)
    return x, torch.randn(4, 2, generator=generator, dtype=dtype)


def train_step(net: Net, optimizer: torch.optim.Optimizer, batch: tuple[torch.Tensor, ...]) -> None:
    x, y = batch
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(net(x), y).backward()
    optimizer.step()


def trained(dtype: torch.dtype = torch.float32, steps: int = 3) -> tuple[Net, torch.optim.AdamW]:
    torch.manual_seed(0)
    net = Net(dtype)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2, betas=(0.8, 0.95), weight_decay=0.1)
    for _ in range(steps):
        train_step(net, optimizer, make_batch(dtype))
    return net, optimizer


def save(directory: Path, net: Net, optimizer: torch.optim.Optimizer | None, **meta: Any) -> None:
    save_checkpoint(
        directory,
        model=net.state_dict(),
        optimizer=None if optimizer is None else optimizer.state_dict(),
        meta=meta,
    )


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A directory holding one checkpoint (version 1) of a trained Net and its AdamW."""
    net, optimizer = trained()
    save(tmp_path / "ckpt", net, optimizer, step=3)
    return tmp_path / "ckpt"


# ---------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_resume_is_bit_identical(tmp_path: Path, dtype: torch.dtype) -> None:
    net, optimizer = trained(dtype)
    save(tmp_path, net, optimizer)
    train_step(net, optimizer, make_batch(dtype))

    torch.manual_seed(123)  # different initial weights, and hyperparameters the load must replace
    fresh = Net(dtype)
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=0.5, betas=(0.1, 0.2))
    loaded = load_checkpoint(tmp_path)
    fresh.load_state_dict(loaded.model)
    fresh_optimizer.load_state_dict(loaded.optimizer)
    train_step(fresh, fresh_optimizer, make_batch(dtype))

    assert_same_tensors(fresh.state_dict(), net.state_dict())
    assert fresh_optimizer.param_groups[0]["betas"] == (0.8, 0.95)
    assert fresh_optimizer.param_groups[0]["lr"] == 1e-2
    assert_same_tensors(
        {f"{i}.{k}": v for i, s in fresh_optimizer.state.items() for k, v in s.items()},
        {f"{i}.{k}": v for i, s in optimizer.state.items() for k, v in s.items()},
    )


def test_optimizer_state_dict_round_trips_exactly(saved: Path) -> None:
    _, optimizer = trained()
    expected = optimizer.state_dict()
    loaded = load_checkpoint(saved).optimizer
    assert loaded is not None
    assert loaded["param_groups"] == expected["param_groups"]
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    assert loaded["state"].keys() == expected["state"].keys()
    assert all(isinstance(key, int) for key in loaded["state"])
    for index, state in expected["state"].items():
        assert_same_tensors(loaded["state"][index], state)
    assert loaded["state"][0]["step"].device.type == "cpu"


def test_optimizer_tensors_have_dotted_keys(saved: Path) -> None:
    from safetensors import safe_open

    with safe_open(saved / OPTIMIZER_FILE, framework="pt") as file:
        keys = set(file.keys())
    assert {"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq"} <= keys


def test_any_optimizer_state_round_trips(tmp_path: Path) -> None:
    """Tensors in param_groups, tuples, lists of tensors, None and non-tensor state entries."""
    state_dict = {
        "state": {
            0: {"step": torch.tensor(2.0), "history": [torch.ones(2), torch.zeros(3)], "n": 4},
            7: {"momentum_buffer": None, "t": 0.5},
        },
        "param_groups": [
            {"lr": torch.tensor(0.1), "betas": (0.9, torch.tensor(0.99)), "params": [0, 7]},
            {"__tensor__": "not a reference", "params": []},
        ],
    }
    save_checkpoint(tmp_path, model={}, optimizer=state_dict, meta={})
    loaded = load_checkpoint(tmp_path).optimizer
    assert loaded is not None
    assert loaded["state"][7] == {"momentum_buffer": None, "t": 0.5}
    assert loaded["state"][0]["n"] == 4
    assert [
        torch.equal(a, b)
        for a, b in zip(loaded["state"][0]["history"], [torch.ones(2), torch.zeros(3)], strict=True)
    ] == [True, True]
    assert torch.equal(loaded["param_groups"][0]["lr"], torch.tensor(0.1))
    betas = loaded["param_groups"][0]["betas"]
    assert (
        isinstance(betas, tuple) and betas[0] == 0.9 and torch.equal(betas[1], torch.tensor(0.99))
    )
    assert loaded["param_groups"][1] == {"__tensor__": "not a reference", "params": []}


def test_dtypes_round_trip(tmp_path: Path) -> None:
    model = {
        "f32": torch.randn(3, 4),
        "f64": torch.randn(5, dtype=torch.float64),
        "f16": torch.randn(2, dtype=torch.float16),
        "bf16": torch.randn(2, dtype=torch.bfloat16),
        "i64": torch.arange(6).reshape(2, 3),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(1.5, dtype=torch.float64),
        "empty": torch.empty(0, 3),
    }
    save_checkpoint(tmp_path, model=model, optimizer=None, meta={})
    loaded = load_checkpoint(tmp_path)
    assert_same_tensors(loaded.model, model)
    assert loaded.optimizer is None


def test_shared_non_contiguous_and_grad_tensors_are_saved(tmp_path: Path) -> None:
    weight = torch.randn(4, 3, requires_grad=True)
    model = {
        "weight": weight,
        "tied": weight,  # tied weights: the same storage twice
        "row": weight[1],  # a view into it
        "transposed": weight.t(),  # non-contiguous
        "strided": torch.arange(10.0)[::3],
    }
    save_checkpoint(tmp_path, model=model, optimizer=None, meta={})
    loaded = load_checkpoint(tmp_path).model
    assert_same_tensors(loaded, {k: v.detach() for k, v in model.items()})
    assert all(t.is_contiguous() and not t.requires_grad for t in loaded.values())


def test_meta_round_trips(tmp_path: Path) -> None:
    meta = {
        "config": {"latent": 4, "solver": "dopri5", "rtol": 1e-6},
        "normaliser": {"mean": [0.5, -1.25], "std": [2.0, 3.0]},
        "metrics": {"loss": [3.5, 2.25], "best": None},
        "position": {"epoch": 2, "step": 40, "done": False},
        "rng": {"torch": list(range(20))},
    }
    save_checkpoint(tmp_path, model={"w": torch.ones(1)}, optimizer=None, meta=meta)
    assert load_checkpoint(tmp_path).meta == meta


def test_load_to_device(saved: Path) -> None:
    loaded = load_checkpoint(saved, device=torch.device("meta"))
    assert all(t.device.type == "meta" for t in loaded.model.values())
    assert loaded.optimizer is not None
    assert loaded.optimizer["state"][0]["exp_avg"].device.type == "cpu"


def test_the_weights_alone_are_read_without_the_optimizers_file(saved: Path) -> None:
    """Serving reads the weights alone: the optimizer's file, kept for refits, is neither read
    nor checked (here it is damaged, and only a full load says so)."""
    (saved / OPTIMIZER_FILE).write_bytes(b"damaged")
    weights = load_checkpoint(saved, optimizer=False)
    assert weights.optimizer is None and weights.model and weights.version == 1
    with pytest.raises(CheckpointError, match=OPTIMIZER_FILE):
        load_checkpoint(saved)


def test_checkpoint_is_frozen(saved: Path) -> None:
    loaded = load_checkpoint(saved)
    assert isinstance(loaded, Checkpoint)
    with pytest.raises(AttributeError):
        loaded.version = 5  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Versions and layout


def test_versions_increase_on_every_save(tmp_path: Path) -> None:
    assert checkpoint_version(tmp_path / "nowhere") is None
    assert checkpoint_version(tmp_path) is None
    net, optimizer = trained(steps=1)
    for expected in (1, 2, 3):
        save(tmp_path, net, optimizer, step=expected)
        assert checkpoint_version(tmp_path) == expected
        loaded = load_checkpoint(tmp_path)
        assert (loaded.version, loaded.meta["step"]) == (expected, expected)


def test_layout_and_checksums(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == sorted(
        [META_FILE, MODEL_FILE, OPTIMIZER_FILE]
    )
    record = json.loads((saved / META_FILE).read_text())
    assert record["version"] == 1
    for name in (MODEL_FILE, OPTIMIZER_FILE):
        data = (saved / name).read_bytes()
        assert record["files"][name] == {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }


def test_saving_without_optimizer_removes_the_old_one(saved: Path) -> None:
    net, _ = trained(steps=1)
    save(saved, net, None)
    assert not (saved / OPTIMIZER_FILE).exists()
    loaded = load_checkpoint(saved)
    assert loaded.optimizer is None and loaded.version == 2
    assert_same_tensors(loaded.model, net.state_dict())


def test_save_removes_temporaries_a_crash_left(saved: Path) -> None:
    stale = saved / f"{TMP_PREFIX}{MODEL_FILE}.abc123"
    stale.write_bytes(b"half a file")
    net, optimizer = trained(steps=1)
    save(saved, net, optimizer)
    assert not stale.exists()


# ---------------------------------------------------------------------------------------------
# Atomicity


@pytest.mark.parametrize("renames_before_crash", [0, 1, 2])
def test_crash_during_save_never_yields_a_mixed_checkpoint(
    saved: Path, monkeypatch: pytest.MonkeyPatch, renames_before_crash: int
) -> None:
    old = load_checkpoint(saved)
    net, optimizer = trained(steps=5)
    real_replace = os.replace
    calls = []

    def crashing_replace(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) > renames_before_crash:
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        save(saved, net, optimizer, step=5)
    monkeypatch.setattr(os, "replace", real_replace)

    assert not list(saved.glob(f"{TMP_PREFIX}*"))
    assert checkpoint_version(saved) == 1  # meta.json, the commit marker, is still the old one
    if renames_before_crash == 0:
        loaded = load_checkpoint(saved)
        assert loaded.version == 1 and loaded.meta == old.meta
        assert_same_tensors(loaded.model, old.model)
    else:
        with pytest.raises(CheckpointError, match="torn"):
            load_checkpoint(saved)

    save(saved, net, optimizer, step=6)  # the next save repairs it
    loaded = load_checkpoint(saved)
    assert loaded.version == 2 and loaded.meta == {"step": 6}
    assert_same_tensors(loaded.model, net.state_dict())


def test_bad_arguments_write_nothing(saved: Path) -> None:
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    net, optimizer = trained(steps=1)
    with pytest.raises(TypeError, match="state_dict"):
        save_checkpoint(saved, model=net.state_dict(), optimizer=optimizer, meta={})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str -> Tensor"):
        save_checkpoint(saved, model={"w": [1.0]}, optimizer=None, meta={})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        save_checkpoint(saved, model=net.state_dict(), optimizer=None, meta={"x": object()})
    with pytest.raises(TypeError, match="meta must be a dict"):
        save_checkpoint(saved, model=net.state_dict(), optimizer=None, meta=[1])  # type: ignore[arg-type]
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    with pytest.raises(TypeError):
        save_checkpoint(saved / "new", model={}, optimizer=None, meta={"x": {1, 2}})
    assert not (saved / "new").exists()


def test_load_retries_when_a_save_commits_meanwhile(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that read the old meta.json, then a tensor file a newer save wrote, starts over."""
    net, optimizer = trained(steps=5)
    real_read = LocalFiles.read

    def read_while_a_save_lands(files: LocalFiles, name: str) -> bytes:
        if name == MODEL_FILE and checkpoint_version(saved) == 1:
            save(saved, net, optimizer, step=5)
        return real_read(files, name)

    monkeypatch.setattr(LocalFiles, "read", read_while_a_save_lands)
    loaded = load_checkpoint(saved)
    assert loaded.version == 2 and loaded.meta == {"step": 5}
    assert_same_tensors(loaded.model, net.state_dict())


def test_load_never_unpickles(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("unpickling")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch.serialization, "load", refuse)
    assert load_checkpoint(saved).version == 1


# ---------------------------------------------------------------------------------------------
# Corrupt input


def rewrite_meta(directory: Path, edit: Any) -> None:
    """Edit meta.json's record in place with `edit`, or replace it by `edit` if not callable."""
    record = json.loads((directory / META_FILE).read_text())
    if callable(edit):
        edit(record)
    else:
        record = edit
    (directory / META_FILE).write_text(json.dumps(record))


def write_consistent(directory: Path, name: str, data: bytes) -> None:
    """Replace a tensor file and record its true size and checksum, so only parsing can fail."""
    (directory / name).write_bytes(data)

    def edit(record: dict[str, Any]) -> None:
        record["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    rewrite_meta(directory, edit)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nowhere.*not an existing directory"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("name", [META_FILE, MODEL_FILE, OPTIMIZER_FILE])
def test_missing_file(saved: Path, name: str) -> None:
    (saved / name).unlink()
    with pytest.raises(CheckpointError, match=rf"{name}: missing"):
        load_checkpoint(saved)


@pytest.mark.parametrize("name", [META_FILE, MODEL_FILE, OPTIMIZER_FILE])
@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty"])
def test_damaged_file(saved: Path, name: str, damage: str) -> None:
    path = saved / name
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytes(range(256))[: len(data)] * 2
    elif damage == "flip":
        data = data[:-3] + bytes([data[-3] ^ 1]) + data[-2:]
    else:
        data = b""
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=name):
        load_checkpoint(saved)
    if name == META_FILE and damage != "flip":  # a flipped bit can leave valid JSON
        with pytest.raises(CheckpointError, match=name):
            checkpoint_version(saved)


@pytest.mark.parametrize("name", [MODEL_FILE, OPTIMIZER_FILE])
@pytest.mark.parametrize(
    "data",
    [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage", b"\xff" * 64, b"\x10\x00\x00\x00"],
)
def test_unparseable_safetensors_with_matching_checksum(
    saved: Path, name: str, data: bytes
) -> None:
    write_consistent(saved, name, data)
    with pytest.raises(CheckpointError, match=rf"{name}: not a valid safetensors file"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ([1, 2], "must hold a JSON object"),
        ("checkpoint", "must hold a JSON object"),
        ({}, "missing keys"),
        ({"version": 1}, "missing keys"),
        (lambda r: r.pop("files"), "missing keys.*files"),
        (lambda r: r.pop("meta"), "missing keys.*meta"),
        (lambda r: r.update(format="pickle"), "format"),
        (lambda r: r.update(format_version=99), "format_version"),
        (lambda r: r.update(version="1"), "version must be an integer"),
        (lambda r: r.update(version=True), "version must be an integer"),
        (lambda r: r.update(version=0), "version must be an integer"),
        (lambda r: r.update(version=1.0), "version must be an integer"),
        (lambda r: r.update(files=[]), "files must be an object"),
        (lambda r: r["files"].pop(MODEL_FILE), "files must name"),
        (lambda r: r["files"].update({"../x": r["files"][MODEL_FILE]}), "files must name"),
        (lambda r: r["files"].pop(OPTIMIZER_FILE), "both present or both absent"),
        (lambda r: r.update(optimizer=None), "both present or both absent"),
        (lambda r: r.update(optimizer=[]), "optimizer must be an object"),
        (lambda r: r.update(meta=[]), "meta must be an object"),
        (lambda r: r["files"].update({MODEL_FILE: "abc"}), "must be an object"),
        (lambda r: r["files"][MODEL_FILE].update(bytes="9"), "bytes must be an integer"),
        (lambda r: r["files"][MODEL_FILE].update(bytes=-1), "bytes must be an integer"),
        (lambda r: r["files"][MODEL_FILE].update(sha256=7), "sha256 must be"),
        (lambda r: r["files"][MODEL_FILE].update(sha256="ab"), "sha256 must be"),
        (lambda r: r["files"][MODEL_FILE].pop("sha256"), "sha256 must be"),
    ],
)
def test_malformed_meta(saved: Path, edit: Any, problem: str) -> None:
    rewrite_meta(saved, edit)
    with pytest.raises(CheckpointError, match=rf"{META_FILE}: .*{problem}"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda o: o["state"]["__items__"][0][1].update(step={"__tensor__": "nope"}), "'nope'"),
        (lambda o: o["state"]["__items__"][0][1].update(step={"__tensor__": 3}), "refers to"),
        (lambda o: o["state"]["__items__"][0][1].pop("step"), "never referred to"),
        (
            lambda o: o["state"]["__items__"][1][1].update(step={"__tensor__": "state.0.step"}),
            "twice",
        ),
        (lambda o: o["state"].update(__items__=[[1.5, {}]]), "pairs"),
        (lambda o: o["state"].update(__items__=[[1]]), "pairs"),
        (lambda o: o["state"].update(__items__={}), "pairs"),
        (lambda o: o["param_groups"][0].update(betas={"__tuple__": 1}), "__tuple__"),
        (lambda o: o.update(param_groups={}), "param_groups"),
        (lambda o: o.pop("state"), "'state'"),
    ],
)
def test_malformed_optimizer_structure(saved: Path, edit: Any, problem: str) -> None:
    rewrite_meta(saved, lambda r: edit(r["optimizer"]))
    with pytest.raises(CheckpointError, match=rf"{OPTIMIZER_FILE} .*{META_FILE}.*{problem}"):
        load_checkpoint(saved)


def test_deeply_nested_meta(saved: Path) -> None:
    (saved / META_FILE).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match=META_FILE):
        load_checkpoint(saved)


def test_deeply_nested_optimizer_structure(saved: Path) -> None:
    nested = "[" * 900 + "]" * 900  # parses, but deeper than the rebuild may go with a few frames
    text = (saved / META_FILE).read_text()
    record = json.loads(text)
    record["optimizer"]["param_groups"][0]["deep"] = "PLACEHOLDER"
    (saved / META_FILE).write_text(json.dumps(record).replace('"PLACEHOLDER"', nested))
    try:
        loaded = load_checkpoint(saved)  # either fine or a CheckpointError; nothing else
    except CheckpointError as err:
        assert META_FILE in str(err)
    else:
        assert loaded.optimizer is not None


def test_checkpoint_in_a_file_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="file"):
        load_checkpoint(tmp_path / "file")
    assert checkpoint_version(tmp_path / "file") is None


def test_a_directory_where_a_file_should_be(saved: Path) -> None:
    (saved / MODEL_FILE).unlink()
    (saved / MODEL_FILE).mkdir()
    with pytest.raises(CheckpointError, match=rf"{MODEL_FILE}: cannot be read"):
        load_checkpoint(saved)
