"""A Python client for the odecast HTTP API, built on httpx.

    from service.client import Client

    with Client("http://127.0.0.1:8000") as client:
        fitted = client.fit({"a": (times, values), "b": (times_b, values_b)},
                            training={"max_seconds": 60})
        job = client.wait(fitted.job_id)            # a progress bar on stderr
        if job.status != "succeeded":
            raise SystemExit(job.error)
        prediction = client.predict(fitted.model_id, series_id="a", grid=(0, 15, 100), level=90)
        rows = prediction.to_rows()

Importing this module needs only httpx and the standard library: numpy and pandas are used when
the caller's data are numpy arrays or pandas frames (the caller has imported them then), never
imported here otherwise, and torch never.

Series (``fit`` and ``predict(series=...)``) may be given as

* a list of dicts in the API's format, ``{"id", "times", "values"}`` (sent as given, except that
  numpy arrays inside become lists and NaN values become null);
* a mapping ``{series_id: (times, values)}``: times and values lists or numpy arrays, values
  ``[T]`` or ``[T, D]``, NaN for not observed; times numbers, ISO-8601 strings with an offset,
  numpy ``datetime64`` (taken as UTC) or timezone-aware ``datetime`` objects;
* a long pandas data frame with columns ``id_col``, ``time_col`` and the value columns (default:
  every other column); NaN for not observed; timestamps naive (taken as UTC) or tz-aware.

Anything else is a ``ValueError`` before any request. Server errors are raised as ``ApiError``
with the server's code and message; a server that cannot be reached, or answers 502, 503 or 504,
is retried with exponential backoff (honouring ``Retry-After``) and then raised as
``ServerUnavailable``. ``POST /fit`` always carries an ``Idempotency-Key`` (a fresh uuid4 unless
given), the same on every retry, so a retried fit never starts two jobs.

The package, one concern per module:

* ``client``: ``Client``, one method per endpoint;
* ``transport``: ``HttpSession`` (the base of ``Client``): the httpx client, retries, JSON bodies;
* ``errors``: ``ClientError``, ``ApiError``, ``ServerUnavailable``, built from error answers;
* ``results``: ``Job``, ``Progress``, ``Model``, ``FitAccepted``, ``Prediction``...;
* ``payloads``: ``series_payload``, the forms of series above as the API's dicts;
* ``values``: times and values (lists, numpy, pandas, datetimes) as JSON;
* ``predict_args``: a prediction's times or grid, levels and quantiles as query or body fields;
* ``progress``: ``progress_line`` and how ``Client.wait`` shows it.
"""

# ``__all__`` is the public API, as it was when service.client was one module; the other names
# below are imported from service.client by code and tests (the private ones by tests), so they
# stay importable from here, each as ``name as name`` (an explicit re-export).
from service.client.client import Client
from service.client.errors import ApiError, ClientError, ServerUnavailable
from service.client.payloads import NEW_SERIES_ID as NEW_SERIES_ID
from service.client.payloads import series_payload
from service.client.predict_args import _grid_values as _grid_values
from service.client.progress import PROGRESS_LOG_EVERY_S as PROGRESS_LOG_EVERY_S
from service.client.progress import _ProgressOutput as _ProgressOutput
from service.client.progress import progress_line as progress_line
from service.client.results import DONE_STATUSES as DONE_STATUSES
from service.client.results import (
    FitAccepted,
    Interval,
    Job,
    Model,
    Prediction,
    Progress,
    RefitAccepted,
)
from service.client.results import PredictionBatch as PredictionBatch
from service.client.transport import DEFAULT_MAX_RETRY_AFTER_S as DEFAULT_MAX_RETRY_AFTER_S
from service.client.transport import MAX_BACKOFF_S as MAX_BACKOFF_S
from service.client.transport import RETRY_STATUSES as RETRY_STATUSES
from service.client.transport import USER_AGENT as USER_AGENT
from service.client.transport import __version__ as __version__

__all__ = [
    "ApiError",
    "Client",
    "ClientError",
    "FitAccepted",
    "Interval",
    "Job",
    "Model",
    "Prediction",
    "Progress",
    "RefitAccepted",
    "ServerUnavailable",
    "series_payload",
]
