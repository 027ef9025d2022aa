"""The Python client for the odecast HTTP API; the code is in ``service/client/client.py``."""

from service.client.client import *  # noqa: F403

# Names imported from service.client besides __all__ (the private ones by the tests).
from service.client.client import DEFAULT_MAX_RETRY_AFTER_S as DEFAULT_MAX_RETRY_AFTER_S
from service.client.client import DONE_STATUSES as DONE_STATUSES
from service.client.client import MAX_BACKOFF_S as MAX_BACKOFF_S
from service.client.client import NEW_SERIES_ID as NEW_SERIES_ID
from service.client.client import PROGRESS_LOG_EVERY_S as PROGRESS_LOG_EVERY_S
from service.client.client import RETRY_STATUSES as RETRY_STATUSES
from service.client.client import USER_AGENT as USER_AGENT
from service.client.client import PredictionBatch as PredictionBatch
from service.client.client import __all__ as __all__
from service.client.client import __version__ as __version__
from service.client.client import _grid_values as _grid_values
from service.client.client import _ProgressOutput as _ProgressOutput
from service.client.client import progress_line as progress_line
