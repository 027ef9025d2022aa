"""Training checkpoints: safetensors for tensors, JSON for everything else, nothing pickled.

A checkpoint is a directory holding

- ``model.safetensors``: the model's state dict;
- ``optimizer.safetensors``: the tensors of the optimizer's state dict (keys such as
  ``state.3.exp_avg`` or ``state.3.step``), present only when an optimizer was saved;
- ``meta.json``: the commit record. It names the checkpoint's ``version`` (1 on the first save
  into a directory, one more on every later save), the size and SHA-256 of each tensor file that
  belongs to it, the optimizer state dict's non-tensor structure (``param_groups``, the ``state``
  keys, and a ``{"__tensor__": "state.3.exp_avg"}`` reference wherever a tensor was), and the
  caller's ``meta`` (config, normaliser, metrics, training position, RNG states).

Saving writes every file under a temporary name in the same directory, fsyncs it, then renames
the tensor files into place and ``meta.json`` last. Whatever a crash leaves behind, a reader sees
either the previous checkpoint complete, or a ``meta.json`` whose checksums do not match the tensor
files, which it reports as a ``CheckpointError``; it never sees a mix of two checkpoints as one.
One process writes a given directory at a time; any number may read it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from .atomic import TMP_PREFIX, fsync_directory, stage

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
META_FILE = "meta.json"
# Files being written are named ``.tmp-<final name>.<random>``; a save removes any it finds, which
# is safe because one process writes a given directory at a time.
# Written into meta.json so a reader can tell an odecast checkpoint, and its layout, from any JSON.
FORMAT = "odecast-checkpoint"
FORMAT_VERSION = 1
# A reader whose tensor files stop matching meta.json because a save committed while it read
# starts again from the new meta.json, at most this many times in all.
LOAD_ATTEMPTS = 3

# Markers in the JSON form of the optimizer state dict (see `_split`). A dict whose keys are not
# all strings, or that has a marker among its keys, is written as ``{"__items__": [[k, v], ...]}``.
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_MARKERS = frozenset({_TENSOR, _TUPLE, _ITEMS})


class CheckpointError(ValueError):
    """A checkpoint is missing, torn (files from two different saves), corrupt or malformed.

    The message names the file and what is wrong with it.
    """


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint.

    **Fields:**

    - `model`: the model's state dict, on the device asked for; pass it to
      `torch.nn.Module.load_state_dict`.
    - `optimizer`: the optimizer's state dict, or None if none was saved; pass it to
      `torch.optim.Optimizer.load_state_dict`. Its tensors are on the CPU: `load_state_dict` moves
      each one next to its parameter (and keeps ``step`` on the CPU unless the optimizer is
      ``capturable`` or ``fused``), as it does for any state dict.
    - `meta`: the caller's ``meta`` as JSON reads it back (tuples come back as lists, dict keys as
      strings).
    - `version`: which save this is, counting from 1 in its directory.
    """

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    meta: dict[str, Any]
    version: int


@dataclass(frozen=True)
class _FileRecord:
    """What meta.json says one tensor file holds: its size in bytes and its SHA-256 (hex)."""

    size: int
    sha256: str


@dataclass(frozen=True)
class _Record:
    """A parsed and type-checked meta.json."""

    version: int
    files: dict[str, _FileRecord]
    optimizer: dict[str, Any] | None
    meta: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Saving


def save_checkpoint(
    directory: Path,
    *,
    model: Mapping[str, torch.Tensor],
    optimizer: Mapping[str, Any] | None,
    meta: dict[str, Any],
) -> None:
    """Write a checkpoint into `directory` (created if missing), replacing the one there.

    **Arguments:**

    - `directory`: the checkpoint's directory; one process writes it at a time.
    - `model`: a state dict, `module.state_dict()`. Tensors may live on any device, be
      non-contiguous or share storage: each is saved as a contiguous, detached CPU copy.
    - `optimizer`: `optimizer.state_dict()`, or None to save no optimizer (removing one an earlier
      save wrote).
    - `meta`: anything else to keep, as JSON-able values. Non-finite floats are written as
      ``NaN``/``Infinity``, which Python's `json` reads back.

    **Raises:** `TypeError` for arguments of the wrong kind, before anything is written; `OSError`
    when writing fails, in which case the previous checkpoint is left as it was unless the failure
    came while renaming files into place (then `load_checkpoint` reports the checkpoint as torn).
    """
    model_tensors = _model_tensors(model)
    optimizer_tensors: dict[str, torch.Tensor] = {}
    optimizer_structure = None
    if optimizer is not None:
        _check_optimizer_state_dict(optimizer)
        optimizer_structure = _split(dict(optimizer), (), optimizer_tensors)
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, not {type(meta).__name__}")

    blobs = {MODEL_FILE: _safetensors_bytes(model_tensors)}
    if optimizer is not None:
        blobs[OPTIMIZER_FILE] = _safetensors_bytes(optimizer_tensors)

    directory = Path(directory)
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": _previous_version(directory) + 1,
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in blobs.items()
        },
        "optimizer": optimizer_structure,
        "meta": meta,
    }
    try:
        meta_bytes = json.dumps(record, indent=1).encode()
    except ValueError as err:  # a circular reference
        raise TypeError(f"meta is not JSON-able: {err}") from err

    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(directory)
    staged: dict[str, Path] = {}
    try:
        for name, data in [*blobs.items(), (META_FILE, meta_bytes)]:
            staged[name] = stage(directory, name, data)
        for name in [*blobs, META_FILE]:
            if name == META_FILE:  # the commit: only once the tensor files are in place on disk
                fsync_directory(directory)
            os.replace(staged[name], directory / name)
            del staged[name]
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)
    if optimizer is None:
        (directory / OPTIMIZER_FILE).unlink(missing_ok=True)
    fsync_directory(directory)


def _model_tensors(model: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Check that `model` is a state dict and return CPU copies of its tensors."""
    if not isinstance(model, Mapping):
        raise TypeError(f"model must be a state dict, not {type(model).__name__}")
    tensors = {}
    for key, value in model.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise TypeError(
                f"model state dict entries must be str -> Tensor, got {key!r} -> "
                f"{type(value).__name__}"
            )
        tensors[key] = _cpu_copy(value)
    return tensors


def _check_optimizer_state_dict(optimizer: Mapping[str, Any]) -> None:
    """Check that `optimizer` looks like `Optimizer.state_dict()` (not the optimizer itself)."""
    if not isinstance(optimizer, Mapping) or not {"state", "param_groups"} <= optimizer.keys():
        raise TypeError(
            "optimizer must be optimizer.state_dict() (a dict with 'state' and 'param_groups'), "
            f"not {type(optimizer).__name__}"
        )


def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A detached, contiguous CPU copy with storage of its own (safetensors refuses shared or
    strided storage)."""
    return tensor.detach().to(device="cpu", memory_format=torch.contiguous_format, copy=True)


def _split(value: Any, path: tuple[Any, ...], tensors: dict[str, torch.Tensor]) -> Any:
    """The JSON form of `value`, found at `path` in an optimizer state dict.

    Each tensor moves into `tensors` under its dotted path (``state.3.exp_avg``) and leaves a
    ``{"__tensor__": path}`` reference behind; tuples become ``{"__tuple__": [...]}`` and dicts
    with non-string keys (``state`` is keyed by parameter index) ``{"__items__": [[k, v], ...]}``,
    so that `_join` restores the state dict exactly.
    """
    if isinstance(value, torch.Tensor):
        name = ".".join(str(part) for part in path)
        if name in tensors:
            raise TypeError(f"optimizer state dict: two tensors are both named {name!r}")
        tensors[name] = _cpu_copy(value)
        return {_TENSOR: name}
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and not value.keys() & _MARKERS:
            return {key: _split(item, (*path, key), tensors) for key, item in value.items()}
        for key in value:
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"optimizer state dict: key {key!r} at {path} is not str or int")
        return {_ITEMS: [[key, _split(item, (*path, key), tensors)] for key, item in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_split(item, (*path, i), tensors) for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [_split(item, (*path, i), tensors) for i, item in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"optimizer state dict: {type(value).__name__} at {path} is not JSON-able")


def _safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """The safetensors file holding `tensors`."""
    return safetensors.torch.save(tensors, metadata={"format": "pt"})


def _previous_version(directory: Path) -> int:
    """The committed version in `directory`, or 0 if there is none or it cannot be read."""
    try:
        return checkpoint_version(directory) or 0
    except CheckpointError:
        return 0


def _remove_stale_temporaries(directory: Path) -> None:
    """Remove files a save that crashed left under temporary names."""
    for path in directory.glob(f"{TMP_PREFIX}*"):
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Loading


def load_checkpoint(directory: Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Read the checkpoint in `directory`, checking every file against meta.json.

    **Arguments:**

    - `directory`: the checkpoint's directory.
    - `device`: where the model's tensors go. The optimizer's stay on the CPU (see `Checkpoint`).

    **Returns:** the `Checkpoint`. Nothing is unpickled: tensors come from safetensors, the rest
    from JSON.

    **Raises:** `CheckpointError`, naming the file, when the checkpoint is missing, torn, corrupt
    or malformed.
    """
    directory = Path(directory)
    record, blobs = _read_consistent(directory)
    model = _parse_safetensors(directory / MODEL_FILE, blobs[MODEL_FILE])
    optimizer = None
    if record.optimizer is not None:
        path = directory / OPTIMIZER_FILE
        tensors = _parse_safetensors(path, blobs[OPTIMIZER_FILE])
        optimizer = _join_optimizer(path, record.optimizer, tensors)
    return Checkpoint(
        model={key: tensor.to(device) for key, tensor in model.items()},
        optimizer=optimizer,
        meta=record.meta,
        version=record.version,
    )


def checkpoint_version(directory: Path) -> int | None:
    """The version committed in `directory`, or None if it holds no checkpoint.

    Cheap: reads meta.json only, so it does not check the tensor files; `load_checkpoint` does,
    and its `Checkpoint.version` says which version it actually read.

    **Raises:** `CheckpointError` if meta.json exists but cannot be read.
    """
    path = Path(directory) / META_FILE
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read: {err}") from err
    return _parse_record(path, raw).version


def _read_consistent(directory: Path) -> tuple[_Record, dict[str, bytes]]:
    """meta.json and the tensor files it names, checked against each other.

    If they do not match and meta.json has changed meanwhile, a save committed while we read:
    start again from the new meta.json.
    """
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no checkpoint here (not an existing directory)")
    meta_path = directory / META_FILE
    raw = _read(meta_path)
    for _ in range(LOAD_ATTEMPTS - 1):
        try:
            return _read_files(directory, raw)
        except CheckpointError:
            newer = _read_or_none(meta_path)
            if newer is None or newer == raw:
                raise
            raw = newer
    return _read_files(directory, raw)


def _read_files(directory: Path, raw_meta: bytes) -> tuple[_Record, dict[str, bytes]]:
    """Parse meta.json's bytes and read the tensor files it names, verified."""
    record = _parse_record(directory / META_FILE, raw_meta)
    blobs = {name: _read_verified(directory / name, entry) for name, entry in record.files.items()}
    return record, blobs


def _read(path: Path) -> bytes:
    """The bytes of `path`, or a CheckpointError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise CheckpointError(f"{path}: missing") from err
    except OSError as err:
        raise CheckpointError(f"{path}: cannot be read: {err}") from err


def _read_or_none(path: Path) -> bytes | None:
    """The bytes of `path`, or None if it cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _read_verified(path: Path, expected: _FileRecord) -> bytes:
    """The bytes of `path`, checked against the size and SHA-256 meta.json recorded."""
    data = _read(path)
    if len(data) != expected.size:
        raise CheckpointError(
            f"{path}: {len(data)} bytes, but {META_FILE} records {expected.size} "
            "(truncated, or torn: written by a different save than meta.json)"
        )
    if hashlib.sha256(data).hexdigest() != expected.sha256:
        raise CheckpointError(
            f"{path}: SHA-256 does not match {META_FILE} "
            "(corrupt, or torn: written by a different save than meta.json)"
        )
    return data


def _parse_record(path: Path, raw: bytes) -> _Record:
    """Parse and type-check meta.json."""

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {problem}")

    try:
        record = json.loads(raw)
    except (ValueError, RecursionError) as err:  # ValueError covers bad UTF-8 too
        raise fail(f"not valid JSON ({err})") from err
    if not isinstance(record, dict):
        raise fail(f"must hold a JSON object, not {type(record).__name__}")
    missing = {"format", "format_version", "version", "files", "optimizer", "meta"} - record.keys()
    if missing:
        raise fail(f"missing keys {sorted(missing)}")
    if record["format"] != FORMAT:
        raise fail(f"format is {record['format']!r}, not {FORMAT!r}")
    if record["format_version"] != FORMAT_VERSION:
        raise fail(f"format_version is {record['format_version']!r}, not {FORMAT_VERSION}")
    version = record["version"]
    if not _is_int(version) or version < 1:
        raise fail(f"version must be an integer >= 1, not {version!r}")
    files = record["files"]
    if not isinstance(files, dict):
        raise fail(f"files must be an object, not {type(files).__name__}")
    if MODEL_FILE not in files or not files.keys() <= {MODEL_FILE, OPTIMIZER_FILE}:
        raise fail(f"files must name {MODEL_FILE} and optionally {OPTIMIZER_FILE}: {list(files)}")
    optimizer = record["optimizer"]
    if optimizer is not None and not isinstance(optimizer, dict):
        raise fail(f"optimizer must be an object or null, not {type(optimizer).__name__}")
    if (optimizer is None) == (OPTIMIZER_FILE in files):
        raise fail(f"optimizer and files[{OPTIMIZER_FILE!r}] must be both present or both absent")
    if not isinstance(record["meta"], dict):
        raise fail(f"meta must be an object, not {type(record['meta']).__name__}")
    return _Record(
        version=version,
        files={name: _file_record(path, name, entry) for name, entry in files.items()},
        optimizer=optimizer,
        meta=record["meta"],
    )


def _file_record(path: Path, name: str, entry: Any) -> _FileRecord:
    """Type-check meta.json's ``files[name]``: ``{"bytes": int, "sha256": hex}``."""
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: files[{name!r}] must be an object")
    size, digest = entry.get("bytes"), entry.get("sha256")
    if not _is_int(size) or size < 0:
        raise CheckpointError(f"{path}: files[{name!r}].bytes must be an integer >= 0")
    if not isinstance(digest, str) or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
        raise CheckpointError(f"{path}: files[{name!r}].sha256 must be 64 lowercase hex digits")
    return _FileRecord(size=size, sha256=digest)


def _is_int(value: Any) -> bool:
    """Whether a JSON value is an integer (JSON's true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_safetensors(path: Path, data: bytes) -> dict[str, torch.Tensor]:
    """The tensors in a safetensors file's bytes, on the CPU."""
    try:
        return safetensors.torch.load(data)
    except Exception as err:  # the parser's errors are its own types; any of them means corrupt
        raise CheckpointError(f"{path}: not a valid safetensors file ({err})") from err


def _join_optimizer(
    path: Path, structure: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> dict[str, Any]:
    """The optimizer state dict from its JSON structure and the tensors from `path`."""
    where = f"{path} with the optimizer structure in {META_FILE}"
    used: set[str] = set()
    try:
        state_dict = _join(structure, tensors, used)
    except RecursionError as err:
        raise CheckpointError(f"{where}: nested too deeply") from err
    except _JoinError as err:
        raise CheckpointError(f"{where}: {err}") from err
    if not isinstance(state_dict.get("state"), dict) or not isinstance(
        state_dict.get("param_groups"), list
    ):
        raise CheckpointError(f"{where}: needs a 'state' dict and a 'param_groups' list")
    if unused := tensors.keys() - used:
        raise CheckpointError(f"{where}: tensors never referred to: {sorted(unused)}")
    return state_dict


class _JoinError(Exception):
    """A malformed optimizer structure (wrapped into a CheckpointError naming the file)."""


def _join(value: Any, tensors: dict[str, torch.Tensor], used: set[str]) -> Any:
    """Undo `_split`: the optimizer state dict value that JSON `value` stands for."""
    if isinstance(value, list):
        return [_join(item, tensors, used) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {_TENSOR}:
        name = value[_TENSOR]
        if not isinstance(name, str) or name not in tensors:
            raise _JoinError(f"refers to tensor {name!r}, which the file does not hold")
        if name in used:
            raise _JoinError(f"refers to tensor {name!r} twice")
        used.add(name)
        return tensors[name]
    if value.keys() == {_TUPLE}:
        if not isinstance(value[_TUPLE], list):
            raise _JoinError(f"{_TUPLE} must hold a list")
        return tuple(_join(item, tensors, used) for item in value[_TUPLE])
    if value.keys() == {_ITEMS}:
        items = value[_ITEMS]
        if not isinstance(items, list) or not all(
            isinstance(item, list)
            and len(item) == 2
            and (isinstance(item[0], str) or _is_int(item[0]))
            for item in items
        ):
            raise _JoinError(f"{_ITEMS} must hold [key, value] pairs with str or int keys")
        return {key: _join(item, tensors, used) for key, item in items}
    return {key: _join(item, tensors, used) for key, item in value.items()}
