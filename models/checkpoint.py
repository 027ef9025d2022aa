"""Training checkpoints: safetensors for tensors, JSON for everything else, nothing pickled.

A checkpoint is a directory (or a folder of an object store) holding

- ``model.safetensors``: the model's state dict;
- ``optimizer.safetensors``: the tensors of the optimizer's state dict (keys such as
  ``state.3.exp_avg`` or ``state.3.step``), present only when an optimizer was saved;
- ``meta.json``: the commit record. It names the checkpoint's ``version`` (1 on the first save
  into a directory, one more on every later save), the size and SHA-256 of each tensor file that
  belongs to it, the optimizer state dict's non-tensor structure (``param_groups``, the ``state``
  keys, and a ``{"__tensor__": "state.3.exp_avg"}`` reference wherever a tensor was), and the
  caller's ``meta`` (config, normaliser, metrics, training position, RNG states).

Saving writes the tensor files first and ``meta.json`` last (see `models.checkpoint_files` for
how, on disk and in an object store). Whatever a crash leaves behind, a reader sees
either the previous checkpoint complete, or a ``meta.json`` whose checksums do not match the tensor
files, which it reports as a ``CheckpointError``; it never sees a mix of two checkpoints as one.
One process writes a given directory at a time; any number may read it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from .atomic import TMP_PREFIX
from .checkpoint_files import (
    META_FILE,
    MODEL_FILE,
    OBJECT_NAME,
    OPTIMIZER_FILE,
    CheckpointError,
    LocalFiles,
    ObjectFiles,
    files_at,
)
from .objects import ObjectFolder
from .optimizer_json import JoinError, cpu_copy, is_json_int, join, split

__all__ = [
    "META_FILE",
    "MODEL_FILE",
    "OPTIMIZER_FILE",
    "TMP_PREFIX",
    "Checkpoint",
    "CheckpointError",
    "CheckpointLocation",
    "checkpoint_manifest",
    "checkpoint_version",
    "load_checkpoint",
    "save_checkpoint",
]

# Where a checkpoint lives: a local directory, or a folder of an object store.
CheckpointLocation = Path | ObjectFolder
# Written into meta.json so a reader can tell an odecast checkpoint, and its layout, from any JSON.
FORMAT = "odecast-checkpoint"
FORMAT_VERSION = 1
# A reader whose tensor files stop matching meta.json because a save committed while it read
# starts again from the new meta.json, at most this many times in all.
LOAD_ATTEMPTS = 3


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
    """What meta.json says one tensor file holds: its size in bytes, its SHA-256 (hex), and the
    name of the file or object holding it (the file's own name in a local directory)."""

    size: int
    sha256: str
    object: str


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
    directory: CheckpointLocation,
    *,
    model: Mapping[str, torch.Tensor],
    optimizer: Mapping[str, Any] | None,
    meta: dict[str, Any],
) -> None:
    """Write a checkpoint into `directory` (created if missing), replacing the one there.

    **Arguments:**

    - `directory`: the checkpoint's directory or object folder; one process writes it at a time.
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
        optimizer_structure, optimizer_tensors = split(dict(optimizer))
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, not {type(meta).__name__}")

    blobs = {MODEL_FILE: _safetensors_bytes(model_tensors)}
    if optimizer is not None:
        blobs[OPTIMIZER_FILE] = _safetensors_bytes(optimizer_tensors)

    files = files_at(directory)
    version = _previous_version(files) + 1
    objects = {files.object_name(name, version): (name, data) for name, data in blobs.items()}
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": version,
        "files": {name: _describe(data, obj, name) for obj, (name, data) in objects.items()},
        "optimizer": optimizer_structure,
        "meta": meta,
    }
    try:
        meta_bytes = json.dumps(record, indent=1).encode()
    except ValueError as err:  # a circular reference
        raise TypeError(f"meta is not JSON-able: {err}") from err
    files.commit({obj: data for obj, (_, data) in objects.items()}, meta_bytes)


def _describe(data: bytes, obj: str, name: str) -> dict[str, Any]:
    """meta.json's entry for one tensor file."""
    entry: dict[str, Any] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if obj != name:
        entry["object"] = obj
    return entry


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
        tensors[key] = cpu_copy(value)
    return tensors


def _check_optimizer_state_dict(optimizer: Mapping[str, Any]) -> None:
    """Check that `optimizer` looks like `Optimizer.state_dict()` (not the optimizer itself)."""
    if not isinstance(optimizer, Mapping) or not {"state", "param_groups"} <= optimizer.keys():
        raise TypeError(
            "optimizer must be optimizer.state_dict() (a dict with 'state' and 'param_groups'), "
            f"not {type(optimizer).__name__}"
        )


def _safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    """The safetensors file holding `tensors`."""
    return safetensors.torch.save(tensors, metadata={"format": "pt"})


def _previous_version(files: LocalFiles | ObjectFiles) -> int:
    """The committed version there, or 0 if there is none or it cannot be read."""
    raw = files.read_meta()
    if raw is None:
        return 0
    try:
        return _parse_record(files.where(META_FILE), raw).version
    except CheckpointError:
        return 0


# ---------------------------------------------------------------------------------------------
# Loading


def load_checkpoint(
    directory: CheckpointLocation,
    *,
    device: str | torch.device = "cpu",
    manifest: Mapping[str, Any] | None = None,
    optimizer: bool = True,
) -> Checkpoint:
    """Read the checkpoint in `directory`, checking every file it reads against meta.json.

    **Arguments:**

    - `directory`: the checkpoint's directory or object folder.
    - `device`: where the model's tensors go. The optimizer's stay on the CPU (see `Checkpoint`).
    - `manifest`: meta.json's content as `checkpoint_manifest` returned it earlier (a model's
      record keeps it), tried first to save reading meta.json, a round trip to an object store.
      It is checked like meta.json; if its files are gone or differ (a newer save, or a damaged
      copy), meta.json decides.
    - `optimizer`: False skips the optimizer's file (serving needs the weights alone); the
      `Checkpoint`'s optimizer is then None.

    **Returns:** the `Checkpoint`. Nothing is unpickled: tensors come from safetensors, the rest
    from JSON.

    **Raises:** `CheckpointError`, naming the file, when the checkpoint is missing, torn, corrupt
    or malformed.
    """
    files = files_at(directory)
    wanted = {MODEL_FILE, OPTIMIZER_FILE} if optimizer else {MODEL_FILE}
    record, blobs = _read_consistent(files, manifest, wanted)
    model = _parse_safetensors(files.where(record.files[MODEL_FILE].object), blobs[MODEL_FILE])
    state = None
    if record.optimizer is not None and optimizer:
        where = files.where(record.files[OPTIMIZER_FILE].object)
        tensors = _parse_safetensors(where, blobs[OPTIMIZER_FILE])
        state = _join_optimizer(where, record.optimizer, tensors)
    return Checkpoint(
        model={key: tensor.to(device) for key, tensor in model.items()},
        optimizer=state,
        meta=record.meta,
        version=record.version,
    )


def checkpoint_manifest(directory: CheckpointLocation) -> dict[str, Any] | None:
    """meta.json's content (checked), or None if `directory` holds no checkpoint: what
    `load_checkpoint`'s ``manifest`` takes. Its ``"version"`` is `checkpoint_version`'s answer.

    **Raises:** `CheckpointError` if meta.json exists but cannot be read.
    """
    files = files_at(directory)
    raw = files.read_meta()
    if raw is None:
        return None
    where = files.where(META_FILE)
    content = _decode_json(where, raw)
    _check_record(where, content)
    return content


def checkpoint_version(directory: CheckpointLocation) -> int | None:
    """The version committed in `directory`, or None if it holds no checkpoint.

    Cheap: reads meta.json only, so it does not check the tensor files; `load_checkpoint` does,
    and its `Checkpoint.version` says which version it actually read.

    **Raises:** `CheckpointError` if meta.json exists but cannot be read.
    """
    manifest = checkpoint_manifest(directory)
    return None if manifest is None else int(manifest["version"])


def _read_consistent(
    files: LocalFiles | ObjectFiles,
    manifest: Mapping[str, Any] | None = None,
    wanted: set[str] | None = None,
) -> tuple[_Record, dict[str, bytes]]:
    """meta.json (or the `manifest` given for it) and the tensor files it names (those of
    ``wanted`` alone, when given), checked against each other.

    If they do not match and meta.json has changed meanwhile, a save committed while we read:
    start again from the new meta.json.
    """
    files.check_there()
    if manifest is not None:
        try:
            where = f"{files.where(META_FILE)} (as the record keeps it)"
            record = _check_record(where, manifest)
            return record, _read_record_files(files, record, wanted)
        except CheckpointError:
            pass  # superseded by a newer save (its files deleted), or a damaged copy
    raw = files.read(META_FILE)
    for _ in range(LOAD_ATTEMPTS - 1):
        try:
            return _read_files(files, raw, wanted)
        except CheckpointError:
            try:
                newer = files.read_meta()
            except CheckpointError:
                newer = None
            if newer is None or newer == raw:
                raise
            raw = newer
    return _read_files(files, raw, wanted)


def _read_files(
    files: LocalFiles | ObjectFiles, raw_meta: bytes, wanted: set[str] | None = None
) -> tuple[_Record, dict[str, bytes]]:
    """Parse meta.json's bytes and read the tensor files it names (of ``wanted``), verified."""
    record = _parse_record(files.where(META_FILE), raw_meta)
    return record, _read_record_files(files, record, wanted)


def _read_record_files(
    files: LocalFiles | ObjectFiles, record: _Record, wanted: set[str] | None = None
) -> dict[str, bytes]:
    return {
        name: _read_verified(files, entry)
        for name, entry in record.files.items()
        if wanted is None or name in wanted
    }


def _read_verified(files: LocalFiles | ObjectFiles, expected: _FileRecord) -> bytes:
    """The bytes of one tensor file, checked against the size and SHA-256 meta.json recorded."""
    data = files.read(expected.object)
    where = files.where(expected.object)
    if len(data) != expected.size:
        raise CheckpointError(
            f"{where}: {len(data)} bytes, but {META_FILE} records {expected.size} "
            "(truncated, or torn: written by a different save than meta.json)"
        )
    if hashlib.sha256(data).hexdigest() != expected.sha256:
        raise CheckpointError(
            f"{where}: SHA-256 does not match {META_FILE} "
            "(corrupt, or torn: written by a different save than meta.json)"
        )
    return data


def _parse_record(path: str, raw: bytes) -> _Record:
    """Parse and type-check meta.json (at `path`, for messages)."""
    return _check_record(path, _decode_json(path, raw))


def _decode_json(path: str, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:  # ValueError covers bad UTF-8 too
        raise CheckpointError(f"{path}: not valid JSON ({err})") from err


def _check_record(path: str, record: Any) -> _Record:
    """Type-check meta.json's decoded content (at `path`, for messages)."""

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: {problem}")

    if not isinstance(record, Mapping):
        raise fail(f"must hold a JSON object, not {type(record).__name__}")
    missing = {"format", "format_version", "version", "files", "optimizer", "meta"} - record.keys()
    if missing:
        raise fail(f"missing keys {sorted(missing)}")
    if record["format"] != FORMAT:
        raise fail(f"format is {record['format']!r}, not {FORMAT!r}")
    if record["format_version"] != FORMAT_VERSION:
        raise fail(f"format_version is {record['format_version']!r}, not {FORMAT_VERSION}")
    version = record["version"]
    if not is_json_int(version) or version < 1:
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


def _file_record(path: str, name: str, entry: Any) -> _FileRecord:
    """Type-check meta.json's ``files[name]``: ``{"bytes": int, "sha256": hex}``, and in an object
    store ``"object"``: the versioned object that holds the file (``model.v3.safetensors``)."""
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: files[{name!r}] must be an object")
    size, digest = entry.get("bytes"), entry.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise CheckpointError(f"{path}: files[{name!r}].bytes must be an integer >= 0")
    if not isinstance(digest, str) or len(digest) != 64 or set(digest) - set("0123456789abcdef"):
        raise CheckpointError(f"{path}: files[{name!r}].sha256 must be 64 lowercase hex digits")
    stored = entry.get("object", name)
    kind = name.partition(".")[0]
    match = OBJECT_NAME.fullmatch(stored) if isinstance(stored, str) else None
    if match is None or match.group(1) != kind:
        raise CheckpointError(f"{path}: files[{name!r}].object must be {kind}[.vN].safetensors")
    return _FileRecord(size=size, sha256=digest, object=stored)


def _parse_safetensors(path: str, data: bytes) -> dict[str, torch.Tensor]:
    """The tensors in a safetensors file's bytes, on the CPU."""
    try:
        return safetensors.torch.load(data)
    except Exception as err:  # the parser's errors are its own types; any of them means corrupt
        raise CheckpointError(f"{path}: not a valid safetensors file ({err})") from err


def _join_optimizer(
    path: str, structure: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> dict[str, Any]:
    """The optimizer state dict from its JSON structure and the tensors from `path`."""
    try:
        return join(structure, tensors)
    except JoinError as err:
        raise CheckpointError(f"{path} with the optimizer structure in {META_FILE}: {err}") from err
