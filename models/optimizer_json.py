"""An optimizer's state dict as JSON plus named tensors, and back: how checkpoints store it.

`split` swaps each tensor for a ``{"__tensor__": "state.3.exp_avg"}`` reference; tuples become
``{"__tuple__": [...]}`` and dicts whose keys are not all strings (``state`` is keyed by parameter
index) ``{"__items__": [[k, v], ...]}``, so that `join` restores the state dict exactly.
"""

from __future__ import annotations

from typing import Any

import torch

# Markers in the JSON form of the optimizer state dict (see `split`). A dict whose keys are not
# all strings, or that has a marker among its keys, is written as ``{"__items__": [[k, v], ...]}``.
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_MARKERS = frozenset({_TENSOR, _TUPLE, _ITEMS})


class JoinError(ValueError):
    """A malformed optimizer structure; the message says where."""


def split(state_dict: dict[str, Any]) -> tuple[Any, dict[str, torch.Tensor]]:
    """The JSON structure of an optimizer state dict and its tensors, by dotted path."""
    tensors: dict[str, torch.Tensor] = {}
    return _split(state_dict, (), tensors), tensors


def join(structure: Any, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The optimizer state dict that `split` took apart; JoinError if the pieces do not fit."""
    used: set[str] = set()
    try:
        state_dict = _join(structure, tensors, used)
    except RecursionError as err:
        raise JoinError("nested too deeply") from err
    if (
        not isinstance(state_dict, dict)
        or not isinstance(state_dict.get("state"), dict)
        or not isinstance(state_dict.get("param_groups"), list)
    ):
        raise JoinError("needs a 'state' dict and a 'param_groups' list")
    if unused := tensors.keys() - used:
        raise JoinError(f"tensors never referred to: {sorted(unused)}")
    return state_dict


def is_json_int(value: Any) -> bool:
    """Whether a JSON value is an integer (JSON's true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


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
        tensors[name] = cpu_copy(value)
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


def _join(value: Any, tensors: dict[str, torch.Tensor], used: set[str]) -> Any:
    """Undo `_split`: the optimizer state dict value that JSON `value` stands for."""
    if isinstance(value, list):
        return [_join(item, tensors, used) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {_TENSOR}:
        name = value[_TENSOR]
        if not isinstance(name, str) or name not in tensors:
            raise JoinError(f"refers to tensor {name!r}, which the file does not hold")
        if name in used:
            raise JoinError(f"refers to tensor {name!r} twice")
        used.add(name)
        return tensors[name]
    if value.keys() == {_TUPLE}:
        if not isinstance(value[_TUPLE], list):
            raise JoinError(f"{_TUPLE} must hold a list")
        return tuple(_join(item, tensors, used) for item in value[_TUPLE])
    if value.keys() == {_ITEMS}:
        items = value[_ITEMS]
        if not isinstance(items, list) or not all(
            isinstance(item, list)
            and len(item) == 2
            and (isinstance(item[0], str) or is_json_int(item[0]))
            for item in items
        ):
            raise JoinError(f"{_ITEMS} must hold [key, value] pairs with str or int keys")
        return {key: _join(item, tensors, used) for key, item in items}
    return {key: _join(item, tensors, used) for key, item in value.items()}


def cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A detached, contiguous CPU copy with storage of its own (safetensors refuses shared or
    strided storage)."""
    return tensor.detach().to(device="cpu", memory_format=torch.contiguous_format, copy=True)
