"""Trained models kept loaded by the API: a bounded LRU cache checked against the store.

An entry is served only while its checkpoint version is the one on disk, so a newer checkpoint
(a retrained or resumed model) replaces it on the next request. Loading runs outside the lock,
so one slow load does not hold up requests for other models, and once per model: requests that
miss while it loads wait for it (16 first requests at once had loaded one model 5 times over).
Torch loads on first use.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models.store import ModelStore

if TYPE_CHECKING:
    from models.checkpoint import CheckpointLocation
    from models.latent.predict import Servable
    from models.series import Series


@dataclass(frozen=True)
class LoadedModel:
    """A servable model (the latent ODE's, or the provisional stage's) with its training series
    (the contexts of ``GET /predict``)."""

    trained: Servable
    series: dict[str, Series]


class ModelCache:
    """Up to ``capacity`` trained models, least recently used evicted first."""

    def __init__(self, store: ModelStore, capacity: int) -> None:
        self.store, self.capacity = store, capacity
        self._entries: OrderedDict[str, tuple[int, LoadedModel]] = OrderedDict()
        self._lock = threading.Lock()
        # per model being loaded: its load's lock and how many requests hold or wait for it
        self._loading: dict[str, tuple[threading.Lock, int]] = {}
        self.hits = self.misses = 0

    def get(
        self,
        model_id: str,
        version: int | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> LoadedModel:
        """The trained model ``model_id`` and its series; raises CheckpointError, or
        FileNotFoundError when it has no trained weights. ``version``: the checkpoint version
        its record names, if it names one: a cached model of that version is served without
        reading meta.json (a round trip to an object store on every prediction). ``manifest``:
        that version's meta.json as the record keeps it, so that loading skips reading it too."""
        from models.checkpoint import checkpoint_version

        folder = self.store.trained_dir(model_id)
        with self._lock:
            entry = self._entries.get(model_id)
        if entry is not None:
            if version != entry[0]:  # no hint, or one that disagrees: meta.json decides
                version = checkpoint_version(folder)
            if version is None:
                raise FileNotFoundError(f"model {model_id!r} has no trained weights")
            with self._lock:
                if self._entries.get(model_id) is entry and entry[0] == version:
                    self._entries.move_to_end(model_id)
                    self.hits += 1
                    return entry[1]
        with self._loads(model_id):
            with self._lock:
                entry = self._entries.get(model_id)
                if entry is not None and version in (None, entry[0]):  # loaded while waiting
                    self._entries.move_to_end(model_id)
                    self.hits += 1
                    return entry[1]
                self.misses += 1
            version, loaded = self._load(model_id, folder, manifest)
            with self._lock:
                self._entries[model_id] = (version, loaded)
                self._entries.move_to_end(model_id)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
            return loaded

    @contextlib.contextmanager
    def _loads(self, model_id: str) -> Iterator[None]:
        """Held while loading ``model_id``: one load per model at a time."""
        with self._lock:
            lock, users = self._loading.get(model_id, (threading.Lock(), 0))
            self._loading[model_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._loading[model_id]
                if users == 1:
                    del self._loading[model_id]
                else:
                    self._loading[model_id] = (lock, users - 1)

    def _load(
        self, model_id: str, folder: CheckpointLocation, manifest: dict[str, Any] | None
    ) -> tuple[int, LoadedModel]:
        """The model's weights and, read meanwhile (each a round trip to an object store), its
        data set."""
        from models.checkpoint import CheckpointError, checkpoint_version
        from models.latent.resume import load_trained_model_and_version

        with ThreadPoolExecutor(max_workers=1) as pool:
            dataset = pool.submit(self.store.dataset, model_id)
            try:
                trained, version = load_trained_model_and_version(folder, manifest=manifest)
            except CheckpointError:
                if checkpoint_version(folder) is None:
                    raise FileNotFoundError(f"model {model_id!r} has no trained weights") from None
                raise
            series = {s.id: s for s in dataset.result().series}
        return version, LoadedModel(trained, series)

    def forget(self, model_id: str) -> None:
        with self._lock:
            self._entries.pop(model_id, None)

    def __len__(self) -> int:
        return len(self._entries)
