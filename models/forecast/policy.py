"""``Policy``: every threshold of the forecasting pipeline in one place.

Each field says what it means; why it has its value is in
``bench/experiments/forecast-pipeline/README.md`` (the question, the table, the command).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    """The forecasting pipeline's thresholds.

    Attributes:
        origins: the backtest origins of a series span at most this many horizons.
        origin_steps: origins per horizon: consecutive origins are one horizon over this
            apart, so their horizons overlap (the paired test reads them as overlapping
            windows: ``selection.paired_p_value``).
        min_origins: fewer origins than this and the simplest candidate serves.
        min_fit_share: the earliest origin leaves at least this share of the points to fit on.
        horizon_points: the backtest horizon in median spacings when the series has no season
            (with a season, the horizon is one season).
        max_horizon_share: the backtest horizon is at most this share of the series' span.
        lead_band_growth: leads beyond the backtest horizon, up to the longest calendar period
            seen ``min_seasons`` times (datetime data; at most ``max_horizon_share`` of the
            span), get choices of their own in bands each this many times as far out as the
            one before (None: the horizon's choice serves every lead).
        combine_best: a chosen candidate other than the simplest serves as the mean of its
            forecast and the best backtested candidate's, where the two differ.
        significance: the one-sided level at which a more complex candidate's per-origin
            errors must beat a simpler one's to replace it.
        material_ratio: a simpler candidate is replaced only when the best's error is
            significantly more than this factor lower (1.0: any significant difference).
        harmonics: the most sine-cosine pairs a seasonal adjustment fits.
        min_seasons: a season is used (adjusted, repeated) only with this many cycles seen.
        shape_half_life: a season's shape weighs an observation half as much for every this
            many cycles it lies before the last (None: all alike), so a shape that changes
            over the years is the recent one.
        smoothing_levels: the smoothing weights tried per median spacing (exponential
            smoothing's alpha), log-spaced between the two bounds.
        smoothing_points: exponential smoothing reads at most this many latest observations
            (older ones weigh under 1% at the smallest alpha).
        momentum_lags: the most previous differences the ``momentum`` candidate regresses a
            difference on.
        interval_leads: the backtest residuals' lead times are pooled into this many bins to
            estimate the forecast variance as it grows with the lead.
        quantile_residuals: the intervals take the backtest residuals' own quantiles (not a
            Gaussian's) when the served candidate has at least this many (overlapping origins
            repeat a target at several leads); so do gaps' intervals (``gaps``).
        gap_runs: linear interpolation's spread in a gap (``gaps``) is fitted on runs of 1 to
            this many consecutive observations left out.
        log_variants: whether positive series also try the seasonally adjusted candidates on
            their logarithm (a multiplicative season).
        tail_origins: each held-out tail is cut into this many stretches, each an origin at
            which the trained model's forecast faces the recipe's.
        family_series: the family candidates (``family``) are tried when at least this many
            series observe a dimension (numeric times only).
        family_points: a family's mean curve is kept at most at this many times.
        family_horizon_share: where the family candidates are tried, the backtest horizon is
            at most this share of a series' span instead of ``max_horizon_share``: a family's
            curves are short, and what is asked of one is the rest of its course.
    """

    origins: int = 6
    origin_steps: int = 4
    min_origins: int = 2
    min_fit_share: float = 0.4
    horizon_points: int = 12
    max_horizon_share: float = 0.125
    lead_band_growth: float | None = 2.0
    significance: float = 0.1
    combine_best: bool = True
    material_ratio: float = 1.0
    harmonics: int = 8
    min_seasons: float = 2.0
    shape_half_life: float | None = 2.0
    smoothing_levels: tuple[float, float, int] = (0.01, 0.99, 32)
    smoothing_points: int = 500
    momentum_lags: int = 4
    interval_leads: int = 4
    tail_origins: int = 3
    quantile_residuals: int = 100
    gap_runs: int = 3
    log_variants: bool = True
    family_series: int = 3
    family_points: int = 256
    family_horizon_share: float = 0.5

    @property
    def most_origins(self) -> int:
        """The most backtest origins of one series: ``origin_steps`` per horizon over
        ``origins`` horizons."""
        return (self.origins - 1) * self.origin_steps + 1

    def __post_init__(self) -> None:
        if not (1 <= self.min_origins <= self.origins and 0 < self.significance < 0.5):
            raise ValueError("need 1 <= min_origins <= origins and 0 < significance < 0.5")
        if self.lead_band_growth is not None and not self.lead_band_growth > 1:
            raise ValueError("lead_band_growth must exceed 1 (or be None)")
        if self.origin_steps < 1 or self.material_ratio < 1 or self.gap_runs < 1:
            raise ValueError("origin_steps, material_ratio and gap_runs must be at least 1")
        shares = (self.min_fit_share, self.max_horizon_share, self.family_horizon_share)
        if not all(0 < share < 1 for share in shares):
            raise ValueError("min_fit_share and the horizon shares must lie in (0, 1)")


DEFAULT_POLICY = Policy()
