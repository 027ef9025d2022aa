"""The ``odecast`` command line: ``main``, and the names other code imports from ``service.cli``.

``odecast up`` runs everything on one machine, ``odecast api`` and ``odecast worker`` the parts
alone (for containers), and the client commands ``fit``, ``jobs``, ``models``, ``predict``,
``cancel`` and ``delete`` talk to a running API (``--url`` or ``ODECAST_URL``, ``--api-key`` or
``ODECAST_API_KEY``) through ``service.client``.

The package stays light to import: torch, FastAPI, uvicorn and httpx are imported inside the
subcommand that needs them, so ``odecast --help`` answers at once. Exit codes: 0 on success (a
clean shutdown), 2 for bad usage, bad ``ODECAST_*`` settings or a CSV file that cannot be read,
1 for a failure: the server said no, a job failed, or the server cannot be reached.

Where things are:

- ``parser.py``: ``build_parser``, every subcommand and option; ``arguments.py``: option types
- ``commands.py``: the client commands; ``csv_input.py``: the CSV reader of ``fit``;
  ``output.py``: tables, JSON, CSV and notes
- ``servers.py``: ``api``, ``worker`` and ``up``; ``supervisor.py``: ``up``'s restarts and
  ordered shutdown; ``children.py``: one part as a child process, dying with ``up``
- ``errors.py``: exit codes and ``CliError``; ``__main__.py``: ``python -m service.cli``
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from service.cli.children import Child, dying_with_parent
from service.cli.commands import (
    DEFAULT_URL,
    cmd_cancel,
    cmd_delete,
    cmd_fit,
    cmd_jobs,
    cmd_models,
    cmd_predict,
    cmd_refit,
)
from service.cli.csv_input import CsvSeries, read_series_csv
from service.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_STDOUT_CLOSED, EXIT_USAGE, CliError
from service.cli.output import SKILL_JOBS, prediction_table, skill_text
from service.cli.parser import build_parser
from service.cli.servers import (
    MULTIPROCESS_DIR_VARIABLE,
    _tcp_listener,
    cmd_api,
    cmd_up,
    cmd_worker,
)
from service.cli.supervisor import (
    API_GRACE_S,
    MAX_QUICK_DEATHS,
    POLL_S,
    REDIS_STARTUP_TIMEOUT_S,
    RESTART_BACKOFF_MAX_S,
    RESTART_BACKOFF_S,
    WORKER_GRACE_S,
    WORKER_STABLE_S,
    Supervisor,
)

# What service.cli offered when it was one module, so that imports of it keep working
# (_tcp_listener: tests/service/test_api_processes.py).
__all__ = [
    "API_GRACE_S",
    "DEFAULT_URL",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_QUICK_DEATHS",
    "MULTIPROCESS_DIR_VARIABLE",
    "POLL_S",
    "REDIS_STARTUP_TIMEOUT_S",
    "RESTART_BACKOFF_MAX_S",
    "RESTART_BACKOFF_S",
    "SKILL_JOBS",
    "WORKER_GRACE_S",
    "WORKER_STABLE_S",
    "Child",
    "CliError",
    "CsvSeries",
    "Supervisor",
    "_tcp_listener",
    "build_parser",
    "cmd_api",
    "cmd_cancel",
    "cmd_delete",
    "cmd_fit",
    "cmd_jobs",
    "cmd_models",
    "cmd_predict",
    "cmd_refit",
    "cmd_up",
    "cmd_worker",
    "dying_with_parent",
    "main",
    "prediction_table",
    "read_series_csv",
    "skill_text",
]


def main(argv: list[str] | None = None) -> int:
    """Run ``odecast`` with ``argv`` (default: the process' arguments); return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return func(args)
    except CliError as exc:
        print(f"odecast: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader left (`odecast jobs | head -1`): no traceback, and none at exit when
        # Python flushes stdout to the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_STDOUT_CLOSED
