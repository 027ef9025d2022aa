"""The HTTP API's request and response bodies (pydantic v2), with examples for OpenAPI.

Series get their full validation (sorting, duplicates, finiteness, time kinds...) from
``models.series.parse_dataset``, which names the series, the index and the rule; these models
check types, bounds and unknown fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, WithJsonSchema

from models.series import ID_PATTERN
from models.store import Stage
from worker.protocol import JobState, ModelStatus

ID_REGEX = ID_PATTERN.pattern  # one rule for every id: models.series
# Ceilings of every list, whatever the settings say (the settings' limits are at most these).
HARD_MAX_SERIES = 100_000
HARD_MAX_POINTS = 1_000_000
HARD_MAX_TIMES = 100_000
MAX_INTERVALS = 20
Time = float | str
_NUMBER_OR_NULL = {"anyOf": [{"type": "number"}, {"type": "null"}]}
# Series' times and values pass through unconverted (no bool -> 1.0, no "4.5" -> 4.5):
# parse_dataset checks them and names the series, the index and the rule.
RawTime = Annotated[
    Any,
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]}),
]
RawValues = Annotated[
    list[Any],
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": _NUMBER_OR_NULL, "minItems": 1},
                {
                    "type": "array",
                    "items": {"type": "array", "items": _NUMBER_OR_NULL, "minItems": 1},
                    "minItems": 1,
                },
            ]
        }
    ),
]

SERIES_EXAMPLE: dict[str, Any] = {
    "id": "sensor-7",
    "times": [0.0, 0.31, 1.7, 2.02],
    "values": [[1.2, None], [0.9, 3.1], [None, 2.8], [0.4, 2.5]],
}


# Where a predicted time lies: between the first and last observation, or beyond.
KindLabel = Literal["interpolation", "extrapolation"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeriesIn(Strict):
    """One series: times as numbers or ISO-8601 strings with an offset (one kind per request),
    values [T][D] (or [T] for one dimension), null where not observed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SERIES_EXAMPLE]})

    id: str = Field(pattern=ID_REGEX, description="Unique within the data set.")
    times: list[RawTime] = Field(min_length=1, max_length=HARD_MAX_POINTS)
    values: RawValues = Field(min_length=1, max_length=HARD_MAX_POINTS)


class ModelSettings(Strict):
    """The latent ODE's sizes and solver; omitted fields take the defaults."""

    latent_dim: StrictInt | None = Field(None, ge=1, le=128, description="Size of z (default 16).")
    hidden_dim: StrictInt | None = Field(None, ge=1, le=1024, description="MLP width (default 64).")
    encoder: Literal["rnn", "odernn"] | None = Field(None, description="Default rnn.")
    encoder_dim: StrictInt | None = Field(None, ge=1, le=1024, description="Default 64.")
    solver: Literal["bosh3", "dopri5", "dopri8"] | None = Field(None, description="Default dopri5.")
    rtol: StrictFloat | None = Field(None, ge=1e-10, le=0.1, description="Default 1e-4.")
    atol: StrictFloat | None = Field(None, ge=1e-12, le=1.0, description="Default 1e-5.")
    max_steps: StrictInt | None = Field(
        None, ge=10, le=1_000_000, description="Solver steps per solve before giving up (10,000)."
    )
    gradient: Literal["continuous_adjoint", "discrete_adjoint", "backprop"] | None = Field(
        None, description="Default discrete_adjoint."
    )
    window: StrictFloat | StrictInt | str | None = Field(
        None,
        description="Window length for long series: a number in the data's time units (seconds "
        "for datetime data) or, for datetime data, an ISO-8601 duration such as P2Y or P10W. "
        "Default: chosen from the data (about 2.5 seasons, or 100 typical spacings).",
        examples=["P3Y", 250.0],
    )


class TrainingSettings(Strict):
    """How to train; omitted fields take the defaults."""

    epochs: StrictInt | None = Field(None, ge=1, le=100_000, description="Default 600.")
    batch_size: StrictInt | None = Field(None, ge=1, le=4096, description="Default 32.")
    lr: StrictFloat | None = Field(
        None,
        gt=0,
        le=1,
        description="Default 1e-2 for short series, 5e-3 for long series cut into windows.",
    )
    max_seconds: StrictFloat | None = Field(
        None, gt=0, le=7 * 86400, description="Wall-clock budget (default 240)."
    )
    seed: StrictInt | None = Field(None, ge=0, le=2**31 - 1, description="Default 0.")
    val_fraction: StrictFloat | None = Field(None, ge=0, lt=0.9, description="Default 0.2.")


class FitRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"series": [SERIES_EXAMPLE], "training": {"max_seconds": 60}}]
        },
    )

    series: list[SeriesIn] = Field(min_length=1, max_length=HARD_MAX_SERIES)
    model: ModelSettings = Field(default_factory=lambda: ModelSettings())
    training: TrainingSettings = Field(default_factory=lambda: TrainingSettings())
    name: str | None = Field(
        None,
        max_length=200,
        # no control characters: a name is printed in other users' tables and terminals
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="A label for people: up to 200 characters, no control characters.",
    )


class RefitRequest(Strict):
    """New observations for a model's series (new times), or new series; the rest of the
    model's settings are its own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"series": [SERIES_EXAMPLE]}]},
    )

    series: list[SeriesIn] = Field(min_length=1, max_length=HARD_MAX_SERIES)
    training: TrainingSettings = Field(
        default_factory=lambda: TrainingSettings(),
        description="Changes to the model's training settings for this refit.",
    )


class RefitAccepted(BaseModel):
    job_id: str
    model_id: str
    version: int = Field(description="The version the refit trains; it serves once final.")
    status_url: str


class FitAccepted(BaseModel):
    job_id: str
    model_id: str
    status_url: str = Field(examples=["/jobs/j-5d0c..."])


class JobProgress(BaseModel):
    epoch: int | None = None
    epochs: int | None = None
    loss: float | None = None
    val_interp_mse: float | None = None
    val_extrap_mse: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None


class JobOut(BaseModel):
    job_id: str
    model_id: str | None
    status: JobState
    progress: JobProgress
    error: str | None = None
    resumed_from_epoch: int | None = Field(
        None, description="Set when the job resumed from a checkpoint (its worker stopped)."
    )
    stage: Stage | None = Field(
        None,
        description="The model's stage stored so far: provisional (the cheap candidates serve) "
        "once they are fitted, final once the latent ODE's training ended; null before.",
    )
    version: int | None = Field(None, description="The model version the job trains.")
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


class JobList(BaseModel):
    jobs: list[JobOut]


class JobSkill(BaseModel):
    """Held-out errors of one job, in the data's units, beside the naive methods'."""

    points: int = Field(description="Held-out observed entries scored.")
    mse: float = Field(description="MSE of the predictive mean served (model and naive blend).")
    model_mse: float | None = Field(None, description="MSE of the model's mean before the blend.")
    blend: dict[str, float | str] | None = Field(
        None,
        description="Weights of the naive answers in the mean (see docs/latent-ode.md: skill).",
    )
    baselines: dict[str, float] = Field(description="MSE of each naive method, same points.")
    best_baseline: str
    ratio: float | None = Field(description="mse / the best naive method's MSE (< 1 is better).")
    beats_naive: bool
    coverage: dict[str, float] = Field(description='Share inside the "80" and "90"% intervals.')
    crps: float = Field(description="Continuous ranked probability score, data units.")
    served: str | None = Field(
        None, description="forecast_recipe when a recipe's candidate serves (docs/forecasting.md)."
    )


class LeadBandChoice(BaseModel):
    """What serves one dimension's forecasts from a lead on (see docs/forecasting.md)."""

    after: float = Field(description="It serves leads beyond this, in time units.")
    candidate: str = Field(description="The candidate that serves.")
    season: float | None = Field(None, description="Its season, in time units.")
    log: bool = Field(False, description="Fitted to the logarithm of the values.")
    reason: str = Field(description="Why it serves, in one line.")
    best: str = Field(description="The candidate with the least backtest error at these leads.")
    ratios: dict[str, float | None] = Field(
        description="Each candidate's backtest error over the served one's at these leads."
    )
    p_value: float | None = Field(description="Paired test: the served one is worse than best.")
    origins: int = Field(description="Backtest origins the choice rests on.")
    variance: dict[str, float | None] = Field(description="Interval variance per lead.")
    partner: str | None = Field(
        None, description="The best candidate, averaged with the served one (None: alone)."
    )
    partner_season: float | None = Field(None, description="The partner's season, time units.")
    partner_log: bool = Field(False, description="The partner fitted to the logarithm.")


class ForecastChoice(BaseModel):
    """What serves one dimension's forecasts, and the evidence (see docs/forecasting.md)."""

    candidate: str = Field(description="The candidate that serves.")
    season: float | None = Field(None, description="Its season, in time units.")
    log: bool = Field(False, description="Fitted to the logarithm of the values.")
    reason: str = Field(description="Why it serves, in one line.")
    best: str = Field(description="The candidate with the least backtest error.")
    ratios: dict[str, float | None] = Field(
        description="Each candidate's backtest error over the served one's (geometric mean)."
    )
    p_value: float | None = Field(description="Paired test: the served one is worse than best.")
    origins: int = Field(description="Backtest origins the choice rests on.")
    variance: dict[str, float | None] = Field(description="Interval variance per lead.")
    model_serves: bool = Field(description="The latent ODE's own forecast serves instead.")
    model_ratio: float | None = Field(None, description="Its held-out error over the candidate's.")
    model_p_value: float | None = Field(None, description="Paired test: the model is better.")
    model_origins: int = Field(0, description="Held-out tails (units of evidence) it rests on.")
    family: dict[str, list[float]] | None = Field(
        None, description="The family's mean curve a family candidate reads (times, sums, counts)."
    )
    quantiles: list[float] | None = Field(
        None,
        description="Sizes that 50, 80, 90 and 95% of the standardised backtest errors stay "
        "within: the intervals' shape (a Gaussian's where evidence was short).",
    )
    beyond: list[LeadBandChoice] = Field(
        default_factory=list,
        description="The choices for leads past the backtest horizon, nearest first.",
    )
    partner: str | None = Field(
        None, description="The best candidate, averaged with the served one (None: alone)."
    )
    partner_season: float | None = Field(None, description="The partner's season, time units.")
    partner_log: bool = Field(False, description="The partner fitted to the logarithm.")


class ForecastRecipe(BaseModel):
    """The forecasting choices of a fit (see docs/forecasting.md)."""

    version: int
    seasons: list[float] = Field(description="Periods the candidates were tried at.")
    policy: dict[str, Any] = Field(description="The thresholds the choices were made under.")
    dims: list[ForecastChoice]


class Skill(BaseModel):
    """How the model did on points it never trained on (see docs/latent-ode.md: skill)."""

    held_out: Literal["points", "series", "in_sample", "backtest"] = Field(
        description="What was held out: points or series (the latent ODE's held-out figures), "
        "in_sample, or backtest (a provisional stage: the recipe's backtests alone)."
    )
    season: float | None = Field(None, description="Season found in the data, in time units.")
    window: float | None = Field(None, description="Window length, or null: series kept whole.")
    base: bool = Field(False, description="A seasonal base (trend + Fourier terms) is fitted.")
    companions: list[float] = Field(
        default_factory=list,
        description="Calendar periods the base carries beside the season (time units).",
    )
    extrapolation_method: Literal["latent_ode", "seasonal_base"] = "latent_ode"
    interpolation: JobSkill | None = Field(
        None, description="Filling gaps; in a family, gaps of at most gap_limit only."
    )
    gap_limit: float | None = Field(
        None,
        description="Families: gaps wider than this (time units) have a blend of their own.",
    )
    wide_gap_interpolation: JobSkill | None = Field(
        None, description="Families: filling gaps wider than gap_limit (a series read sparsely)."
    )
    extrapolation: JobSkill | None = None
    forecast_recipe: ForecastRecipe | None = Field(
        None, description="What serves forecasts and why; null for models trained before it."
    )
    interpolation_method: str | None = Field(
        None,
        description="A provisional stage: what fills gaps (linear_interpolation, its spread "
        "fitted on observations left out; see docs/forecasting.md).",
    )


class VersionOut(BaseModel):
    """One version of a model."""

    version: int
    parent_version: int | None = None
    points_added: int | None = None
    n_series: int
    n_points: int
    status: ModelStatus
    stage: Stage | None = None
    job_id: str | None = None
    error: str | None = None
    created_at: str
    trained_at: str | None = None


class ModelOut(BaseModel):
    """A model in the registry."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    name: str | None = None
    status: ModelStatus
    job_id: str | None = None
    config: dict[str, Any]
    dims: int
    time_kind: Literal["numeric", "datetime"]
    time_range: list[float] = Field(description="First and last observed time (POSIX s if dates).")
    time_scale: float | None = Field(None, description="Time units per model time unit.")
    n_series: int
    n_points: int
    series_ids: list[str]
    metrics: dict[str, float] = Field(default_factory=dict)
    skill: Skill | None = Field(None, description="Held-out skill, once trained.")
    device: str | None = Field(None, description="Device it trained on (cpu, cuda, cuda:N).")
    error: str | None = None
    created_at: str
    trained_at: str | None = None
    checkpoint_version: int | None = None
    stage: Stage | None = Field(
        None,
        description="What serves predictions: provisional (the cheap candidates, while the "
        "latent ODE trains, or after its training was cancelled or failed), final (training "
        "ended), null (nothing yet).",
    )
    version: int = Field(1, description="The serving version (1: the first fit; +1 a refit).")
    parent_version: int | None = Field(None, description="The version it was refitted from.")
    points_added: int | None = Field(None, description="Observations its refit added.")
    pending_version: int | None = Field(None, description="A refit not final yet.")
    versions: list[VersionOut] = Field(
        default_factory=list,
        description="Every version, once the model was refitted (empty before: version 1).",
    )


class ModelList(BaseModel):
    models: list[ModelOut]


class BacktestOut(BaseModel):
    """The rolling-origin backtest behind a model's forecasts (see docs/forecasting.md)."""

    model_id: str
    dims: list[dict[str, Any]] = Field(
        description="Per dimension: the served candidate, the horizon (time units), each "
        "origin's MSE of the served forecast (served) beside the naive methods', and the same "
        "per stretch of lead time (from/to in horizons)."
    )


class ObservedSeries(BaseModel):
    """A training series as the model stores it: what ``GET /predict`` reads as the context."""

    model_id: str
    series_id: str
    times: list[Time] = Field(description="Sorted; numbers, or UTC ISO-8601 for datetime models.")
    values: list[list[float | None]] = Field(description="[T][D]; null where not observed.")


class Interval(BaseModel):
    lower: list[list[float]]
    upper: list[list[float]]


class PredictionOut(BaseModel):
    """Answers in the order the times were asked."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    series_id: str
    times: list[Time]
    mean: list[list[float]] = Field(description="[T][D]")
    intervals: dict[str, Interval] = Field(
        default_factory=dict, description='Central intervals by level, e.g. "80".'
    )
    quantiles: dict[str, list[list[float]]] = Field(
        default_factory=dict, description='Asked quantiles, e.g. "0.1": [T][D].'
    )
    kind: list[KindLabel]
    stage: Stage = Field(
        description="The model stage that answered: provisional (the cheap candidates, while "
        "the latent ODE trains) or final."
    )
    version: int = Field(description="The model version that answered (1: its first fit).")


class PredictOptions(Strict):
    """What every POST prediction body shares: the model, the intervals, the samples, the seed."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str = Field(pattern=ID_REGEX)
    level: list[StrictFloat] | None = Field(
        None, max_length=MAX_INTERVALS, description="Central interval levels, 0-100."
    )
    quantiles: list[StrictFloat] | None = Field(
        None, max_length=MAX_INTERVALS, description="Quantiles, 0-1."
    )
    n_samples: StrictInt | None = Field(None, ge=1, description="Posterior samples (default 100).")
    version: StrictInt | None = Field(
        None, ge=1, description="The model version to answer from (default: the serving one)."
    )
    seed: StrictInt = Field(
        0,
        ge=0,
        le=2**31 - 1,
        description="Same request, same seed: same answer (for every item of a batch).",
    )


class PredictRequest(PredictOptions):
    """Predict for a series the model has not seen: it is the context the encoder reads."""

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_id": "m-5d0c3b9f0a8e4c1f9a7b6c5d4e3f2a1b",
                    "series": SERIES_EXAMPLE,
                    "times": [2.5, 3.0],
                }
            ]
        },
    )

    series: SeriesIn
    times: list[RawTime] = Field(min_length=1, max_length=HARD_MAX_TIMES)


class BatchItem(Strict):
    """One series of a batch: a training series by id, or a new series, and its times."""

    series_id: str | None = Field(None, pattern=ID_REGEX, description="A training series.")
    series: SeriesIn | None = Field(None, description="A new series (the context read).")
    times: list[RawTime] = Field(min_length=1, max_length=HARD_MAX_TIMES)


class PredictBatchRequest(PredictOptions):
    """Many series of one model in one request, answered from one batched solve."""

    model_config = ConfigDict(
        extra="forbid",
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_id": "m-5d0c3b9f0a8e4c1f9a7b6c5d4e3f2a1b",
                    "items": [
                        {"series_id": "s0", "times": [2.5, 12.0]},
                        {"series": SERIES_EXAMPLE, "times": [2.5, 3.0]},
                    ],
                    "level": [90],
                }
            ]
        },
    )

    items: list[BatchItem] = Field(min_length=1, max_length=HARD_MAX_SERIES)


class ItemError(BaseModel):
    """Why one item of a batch has no answer (the others are answered)."""

    index: int
    code: str
    message: str


class PredictionBatchOut(BaseModel):
    """One answer per item, in the order sent: null where ``errors`` says why."""

    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    predictions: list[PredictionOut | None]
    errors: list[ItemError] = Field(default_factory=list)


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    checks: dict[str, str] = Field(default_factory=dict)
