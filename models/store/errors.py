"""The model store's errors, shared by its backends."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's errors."""


class UnknownModelError(StoreError, KeyError):
    """No model with this id is in the store."""

    def __init__(self, model_id: str) -> None:
        super().__init__(model_id)
        self.model_id = model_id

    def __str__(self) -> str:
        return f"no model {self.model_id!r} in the store"


class CorruptFileError(StoreError, ValueError):
    """A file of the store cannot be read back; the message names it."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or used now (object store down, bucket missing, no access);
    the message says which and what to check."""
