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
    """A servable model (the latent ODE's, or the provisional stage's) of one version of a
    model, with that version's training series (the contexts of ``GET /predict``)."""

    trained: Servable
    series: dict[str, Series]
    version: int = 1


class ModelCache:
    """Up to ``capacity`` trained models, least recently used evicted first."""

    def __init__(self, store: ModelStore, capacity: int) -> None:
        self.store, self.capacity = store, capacity
        # keyed by (model id, model version): the checkpoint version and the loaded model
        self._entries: OrderedDict[tuple[str, int], tuple[int, LoadedModel]] = OrderedDict()
        self._lock = threading.Lock()
        # per model being loaded: its load's lock and how many requests hold or wait for it
        self._loading: dict[tuple[str, int], tuple[threading.Lock, int]] = {}
        self.hits = self.misses = 0

    def get(
        self,
        model_id: str,
        version: int | None = None,
        manifest: dict[str, Any] | None = None,
        model_version: int = 1,
    ) -> LoadedModel:
        """Version ``model_version`` of the model ``model_id`` and its series; raises
        CheckpointError, or FileNotFoundError when it has nothing servable. ``version``: the
        checkpoint version its record names, if it names one: a cached model of that version is
        served without reading meta.json (a round trip to an object store on every prediction).
        ``manifest``: that version's meta.json as the record keeps it, so that loading skips
        reading it too."""
        from models.checkpoint import checkpoint_version

        key = (model_id, model_version)
        folder = self.store.trained_dir(model_id, model_version)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            if version != entry[0]:  # no hint, or one that disagrees: meta.json decides
                version = checkpoint_version(folder)
            if version is None:
                raise FileNotFoundError(f"model {model_id!r} has no trained weights")
            with self._lock:
                if self._entries.get(key) is entry and entry[0] == version:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry[1]
        with self._loads(key):
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and version in (None, entry[0]):  # loaded while waiting
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry[1]
                self.misses += 1
            version, loaded = self._load(model_id, model_version, folder, manifest)
            with self._lock:
                self._entries[key] = (version, loaded)
                self._entries.move_to_end(key)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
            return loaded

    @contextlib.contextmanager
    def _loads(self, key: tuple[str, int]) -> Iterator[None]:
        """Held while loading a model's version: one load per version at a time."""
        with self._lock:
            lock, users = self._loading.get(key, (threading.Lock(), 0))
            self._loading[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._loading[key]
                if users == 1:
                    del self._loading[key]
                else:
                    self._loading[key] = (lock, users - 1)

    def _load(
        self,
        model_id: str,
        model_version: int,
        folder: CheckpointLocation,
        manifest: dict[str, Any] | None,
    ) -> tuple[int, LoadedModel]:
        """The model's weights and, read meanwhile (each a round trip to an object store), its
        data set."""
        from models.checkpoint import CheckpointError, checkpoint_version
        from models.latent.resume import load_trained_model_and_version

        with ThreadPoolExecutor(max_workers=1) as pool:
            dataset = pool.submit(self.store.dataset, model_id, model_version)
            try:
                trained, version = load_trained_model_and_version(folder, manifest=manifest)
            except CheckpointError:
                if checkpoint_version(folder) is None:
                    raise FileNotFoundError(f"model {model_id!r} has no trained weights") from None
                raise
            series = {s.id: s for s in dataset.result().series}
        return version, LoadedModel(trained, series, model_version)

    def forget(self, model_id: str) -> None:
        """Drop every version of ``model_id``."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == model_id]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
