"""The API's model cache: bounded, least recently used first out, replaced by newer checkpoints."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from models.checkpoint import CheckpointError
from models.latent.model import LatentODE, ModelConfig
from models.latent.normaliser import Normaliser
from models.latent.resume import save_trained_model
from models.latent.train import Config, TrainedModel
from models.series import parse_dataset
from models.store import Store, new_record
from service.model_cache import ModelCache

SERIES = [{"id": "a", "times": [0.0, 1.0, 2.0], "values": [1.0, 2.0, 1.5]}]


def add_model(store: Store, model_id: str, seed: int) -> None:
    dataset = parse_dataset(SERIES)
    if not store.exists(model_id):
        store.create_model(model_id, new_record(model_id, dataset, {}), dataset)
    torch.manual_seed(seed)
    config = Config(ModelConfig(latent_dim=2, hidden_dim=4, encoder_dim=3))
    trained = TrainedModel(
        LatentODE(config.model, 1), Normaliser.fit(dataset), config, {"mse": 1.0}, ("a",)
    )
    save_trained_model(store.trained_dir(model_id), trained)


def first_weight(cache: ModelCache, model_id: str) -> torch.Tensor:
    parameters = cache.get(model_id).trained.model.parameters()
    return torch.cat([p.detach().flatten() for p in parameters])


def test_a_cached_model_is_served_until_a_newer_checkpoint_lands(tmp_path) -> None:
    store = Store(tmp_path)
    add_model(store, "m", seed=0)
    cache = ModelCache(store, capacity=2)
    before = first_weight(cache, "m")
    assert cache.get("m") is cache.get("m")
    assert (cache.hits, cache.misses) == (2, 1)
    add_model(store, "m", seed=1)  # retrained: checkpoint version 2
    after = first_weight(cache, "m")
    assert not torch.equal(before, after)
    assert cache.misses == 2
    assert cache.get("m").series["a"].times.tolist() == [0.0, 1.0, 2.0]


def test_the_least_recently_used_model_leaves_first(tmp_path) -> None:
    store = Store(tmp_path)
    for name in ("a", "b", "c"):
        add_model(store, name, seed=0)
    cache = ModelCache(store, capacity=2)
    cache.get("a"), cache.get("b"), cache.get("a"), cache.get("c")  # b is the oldest now
    assert len(cache) == 2
    misses = cache.misses
    cache.get("a")
    assert cache.misses == misses
    cache.get("b")
    assert cache.misses == misses + 1


def test_a_model_without_weights_is_reported(tmp_path) -> None:
    store = Store(tmp_path)
    store.create_model("m", new_record("m", parse_dataset(SERIES), {}), parse_dataset(SERIES))
    with pytest.raises(FileNotFoundError, match="no trained weights"):
        ModelCache(store, capacity=1).get("m")


def test_the_records_version_spares_a_read_and_a_wrong_one_is_harmless(tmp_path) -> None:
    store = Store(tmp_path)
    add_model(store, "m", seed=0)
    cache = ModelCache(store, capacity=2)
    loaded = cache.get("m", version=7)  # a wrong hint: the checkpoint holds version 1
    assert cache.get("m", version=7) is loaded and cache.misses == 1  # meta.json decided
    assert cache.get("m", version=1) is loaded
    meta = store.trained_dir("m") / "meta.json"
    meta.write_text("{damaged")  # the record's version is believed without reading it
    assert cache.get("m", version=1) is loaded
    with pytest.raises(CheckpointError):
        cache.get("m")  # without it, meta.json is read


def test_requests_that_miss_together_load_a_model_once(tmp_path, monkeypatch) -> None:
    """16 first requests at once had loaded one model 5 times over (memory, object-store reads);
    a load of another model still runs beside it."""
    store = Store(tmp_path)
    add_model(store, "m", seed=0)
    add_model(store, "n", seed=0)
    cache = ModelCache(store, capacity=2)
    loads: list[str] = []
    original = ModelCache._load

    def slow_load(self, model_id, model_version, folder, manifest):
        loads.append(model_id)
        time.sleep(0.2)
        return original(self, model_id, model_version, folder, manifest)

    monkeypatch.setattr(ModelCache, "_load", slow_load)
    with ThreadPoolExecutor(max_workers=17) as pool:
        other = pool.submit(cache.get, "n")
        answers = list(pool.map(lambda _: cache.get("m"), range(16)))
        other.result()
    assert sorted(loads) == ["m", "n"]
    assert all(answer is answers[0] for answer in answers)
    assert (cache.hits, cache.misses) == (15, 2)
    assert cache._loading == {}
