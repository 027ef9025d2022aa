"""A ``SeriesValidationError`` as the API's 422: every problem with its series, index and rule."""

from __future__ import annotations

from models.series import SeriesValidationError

from .errors import ApiError


def series_error(error: SeriesValidationError, where: str) -> ApiError:
    """422 ``invalid_series``; ``details`` holds one entry per problem (at most 50)."""
    details = [
        {
            "loc": where,
            "series": p.series,
            "index": p.index,
            "rule": str(p.rule),
            "msg": p.message,
        }
        for p in error.problems
    ]
    if error.more:
        details.append({"loc": where, "msg": f"{error.more} more problem(s) not listed"})
    message = str(error).removeprefix("invalid series: ")
    return ApiError(422, "invalid_series", message, details)
