"""The client's result types (``service.client``) carry the fields of the server's response
schemas (``service.schemas``) they mirror, so a field added to an answer reaches the client's users.

No server is started: the schemas' ``model_fields`` are compared with the types' fields, and full
answers (validated by the schemas) are read with the types' ``from_json``.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from service import schemas
from service.client import (
    FitAccepted,
    Interval,
    Job,
    Model,
    Prediction,
    PredictionBatch,
    Progress,
    RefitAccepted,
)

# Every client type beside the schema it mirrors, and the fields only the client has (on purpose).
MIRRORS: list[tuple[type, type[BaseModel], set[str]]] = [
    (Progress, schemas.JobProgress, set()),
    # raw: the answer as sent, so that fields of a newer server are not lost.
    (Job, schemas.JobOut, {"raw"}),
    (Model, schemas.ModelOut, {"raw"}),
    # idempotency_key: the Idempotency-Key header the client sent (a header, not in the body).
    (FitAccepted, schemas.FitAccepted, {"idempotency_key", "raw"}),
    (RefitAccepted, schemas.RefitAccepted, {"raw"}),
    (Interval, schemas.Interval, set()),
    (Prediction, schemas.PredictionOut, {"raw"}),
    (PredictionBatch, schemas.PredictionBatchOut, set()),
]

# Fields of a server schema that the client type leaves out on purpose: none.
SERVER_ONLY: dict[type[BaseModel], set[str]] = {}

# Schemas nested in the mirrored ones that the client keeps as the answer's plain dicts.
AS_DICTS: set[type[BaseModel]] = {
    schemas.Skill,  # Model.skill: a dict (the CLI's skill_text reads it as one)
    schemas.ItemError,  # PredictionBatch.errors: {index, code, message} dicts
    schemas.VersionOut,  # Model.versions: one dict per version
}

PROGRESS = {
    "epoch": 3,
    "epochs": 10,
    "loss": 0.5,
    "val_interp_mse": 0.1,
    "val_extrap_mse": 0.2,
    "elapsed_s": 12.0,
    "eta_s": 30.0,
}
JOB = {
    "job_id": "j-1",
    "model_id": "m-1",
    "status": "running",
    "progress": PROGRESS,
    "error": None,
    "resumed_from_epoch": 2,
    "stage": "provisional",
    "version": 1,
    "created_at": "2026-03-01T00:00:00Z",
    "started_at": "2026-03-01T00:00:01Z",
    "ended_at": None,
}
MODEL = {
    "model_id": "m-1",
    "name": "demo",
    "status": "ready",
    "job_id": "j-1",
    "config": {"latent_dim": 8},
    "dims": 2,
    "time_kind": "numeric",
    "time_range": [0.0, 10.0],
    "time_scale": 1.0,
    "n_series": 3,
    "n_points": 120,
    "series_ids": ["s0", "s1", "s2"],
    "metrics": {"val_interp_mse": 0.1},
    "skill": {"held_out": "points", "season": None, "window": None},
    "device": "cpu",
    "error": None,
    "created_at": "2026-03-01T00:00:00Z",
    "trained_at": "2026-03-01T00:01:00Z",
    "checkpoint_version": 1,
    "stage": "final",
    "version": 2,
    "parent_version": 1,
    "points_added": 12,
    "pending_version": None,
    "versions": [],
}
PREDICTION = {
    "model_id": "m-1",
    "series_id": "s0",
    "times": [1.0, 12.0],
    "mean": [[0.1, 0.2], [0.3, 0.4]],
    "intervals": {"80": {"lower": [[0.0, 0.1], [0.2, 0.3]], "upper": [[0.2, 0.3], [0.4, 0.5]]}},
    "quantiles": {"0.1": [[0.0, 0.1], [0.2, 0.3]]},
    "kind": ["interpolation", "extrapolation"],
    "stage": "final",
    "version": 2,
}
BATCH = {
    "model_id": "m-1",
    "predictions": [PREDICTION, None],
    "errors": [{"index": 1, "code": "series_not_found", "message": "no series 'x'"}],
}
# Full answers, as the server would send them, for the types read with from_json.
ANSWERS: list[tuple[Any, type[BaseModel], dict[str, Any]]] = [
    (Progress, schemas.JobProgress, PROGRESS),
    (Job, schemas.JobOut, JOB),
    (Model, schemas.ModelOut, MODEL),
    (Prediction, schemas.PredictionOut, PREDICTION),
    (PredictionBatch, schemas.PredictionBatchOut, BATCH),
]


def client_fields(cls: type) -> set[str]:
    """The fields of a client result type: a dataclass, or a NamedTuple (``Interval``)."""
    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls)}
    return set(cls._fields)  # type: ignore[attr-defined]


def plain(value: Any) -> Any:
    """A client result read back as JSON (dataclasses and NamedTuples as dicts, ``raw`` left out)
    to compare with the answer it was read from."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "raw"
        }
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("client_type", "schema", "client_only"),
    MIRRORS,
    ids=[client_type.__name__ for client_type, _, _ in MIRRORS],
)
def test_a_client_type_has_the_fields_of_its_server_schema(
    client_type: type, schema: type[BaseModel], client_only: set[str]
) -> None:
    server = set(schema.model_fields)
    ours = client_fields(client_type)
    missing = server - ours - SERVER_ONLY.get(schema, set())
    assert not missing, (
        f"{schema.__name__} has {sorted(missing)}, {client_type.__name__} has not: add them to "
        "service/client/results.py (or to SERVER_ONLY here, saying why)"
    )
    assert ours - server == client_only, (
        f"{client_type.__name__} has {sorted(ours - server)} beyond {schema.__name__}; "
        f"expected {sorted(client_only)} (a field renamed on one side only?)"
    )


def nested_schemas(schema: type[BaseModel]) -> set[type[BaseModel]]:
    """The schemas in ``schema``'s fields, inside lists, dicts and unions too."""
    found: set[type[BaseModel]] = set()
    todo = [field.annotation for field in schema.model_fields.values()]
    while todo:
        annotation = todo.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.add(annotation)
        todo.extend(typing.get_args(annotation))
    return found


def test_the_schemas_inside_mirrored_ones_are_mirrored_or_kept_as_dicts() -> None:
    """A schema nested in an answer (JobOut.progress...) has its client type too, or is one that
    the client keeps as the answer's dicts (listed in AS_DICTS)."""
    mirrored = {schema for _, schema, _ in MIRRORS}
    for schema in mirrored:
        for inner in nested_schemas(schema):
            assert inner in mirrored or inner in AS_DICTS, (
                f"{schema.__name__} holds {inner.__name__}: mirror it in "
                "service/client/results.py and in MIRRORS here, or add it to AS_DICTS"
            )


@pytest.mark.parametrize(
    ("client_type", "schema", "answer"),
    ANSWERS,
    ids=[client_type.__name__ for client_type, _, _ in ANSWERS],
)
def test_from_json_keeps_every_field_of_a_full_answer(
    client_type: Any, schema: type[BaseModel], answer: dict[str, Any]
) -> None:
    # The answer must be complete and valid, or a new server field would go unchecked here.
    assert set(answer) == set(schema.model_fields), "add the schema's new fields to the answer"
    schema.model_validate(answer)
    result = client_type.from_json(answer)
    assert plain(result) == answer
    if "raw" in client_fields(client_type):
        assert result.raw == answer
