"""The ``odecast`` argument parser: each subcommand, its options and the function that runs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from service.cli.arguments import (
    api_process_count,
    column_list,
    device,
    grid,
    id_list,
    port_number,
    positive,
    store_location,
    time_value,
    worker_count,
)
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
from service.cli.servers import cmd_api, cmd_up, cmd_worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odecast",
        description="Latent-ODE interpolation and extrapolation of irregular time series, "
        "as a REST service. Settings come from ODECAST_* environment variables; options "
        "given here override them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="run everything on this machine: Redis (unless ODECAST_REDIS_URL is set), "
        "the API and workers; Ctrl-C stops all of them",
        description="Run the whole service on this machine. Starts an embedded Redis with its "
        "persistence in the store (unless ODECAST_REDIS_URL is set), the API and N workers, "
        "and shows their logs in this terminal. Ctrl-C (or SIGTERM) stops them in order; "
        "workers get time to checkpoint their jobs.",
    )
    up.add_argument("--host", help="address the API listens on (default: ODECAST_HOST)")
    up.add_argument("--port", type=port_number, help="port of the API (default: ODECAST_PORT)")
    up.add_argument(
        "--workers", type=worker_count, help="number of workers, 0-64 (default: ODECAST_WORKERS)"
    )
    up.add_argument(
        "--store",
        type=store_location,
        help="the model store: a folder or s3://bucket/prefix (default: ODECAST_STORE)",
    )
    up.set_defaults(func=cmd_up)

    api = sub.add_parser("api", help="run the HTTP API alone (uvicorn)")
    api.add_argument("--host", help="address to listen on (default: ODECAST_HOST)")
    api.add_argument("--port", type=port_number, help="port to listen on (default: ODECAST_PORT)")
    api.add_argument(
        "--workers",
        type=api_process_count,
        help="API processes sharing the port, 1-64 (default: ODECAST_API_WORKERS)",
    )
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="run one training worker alone (RQ)")
    worker.add_argument(
        "--burst", action="store_true", help="exit once the queue is empty instead of waiting"
    )
    worker.add_argument(
        "--light",
        action="store_true",
        help="run only the provisional fits (the cheap candidates, seconds each), so that "
        "they start at once while every training worker is busy",
    )
    worker.add_argument(
        "--device",
        type=device,
        help="train on auto (CUDA if torch sees one), cpu, cuda or cuda:N "
        "(default: ODECAST_WORKER_DEVICE)",
    )
    worker.set_defaults(func=cmd_worker)
    _add_client_commands(sub)
    return parser


def _add_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fit``, ``refit``, ``jobs``, ``models``, ``predict``, ``cancel``, ``delete``: talk to a
    running API."""
    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument(
        "--url", help=f"the API's base URL (default: $ODECAST_URL, else {DEFAULT_URL})"
    )
    conn.add_argument(
        "--api-key",
        metavar="KEY",
        help="sent as X-API-Key when the API has keys (default: $ODECAST_API_KEY)",
    )

    csv_columns = argparse.ArgumentParser(add_help=False)
    csv_columns.add_argument(
        "--id-col", default="id", metavar="NAME", help="column of series ids (default: id)"
    )
    csv_columns.add_argument(
        "--time-col", default="time", metavar="NAME", help="column of times (default: time)"
    )
    csv_columns.add_argument(
        "--value-cols",
        type=column_list,
        metavar="A,B,...",
        help="value columns, comma-separated, one per dimension (default: every other column)",
    )
    budget = argparse.ArgumentParser(add_help=False)
    budget.add_argument(
        "--epochs", type=positive(int), metavar="N", help="training.epochs (server default 600)"
    )
    budget.add_argument(
        "--max-seconds",
        type=positive(float),
        metavar="S",
        help="training.max_seconds, the time budget (server default 240)",
    )

    following = argparse.ArgumentParser(add_help=False)
    following.add_argument(
        "--wait",
        action="store_true",
        help="follow the job (progress on stderr) until it ends; exit 1 unless it succeeded",
    )

    fit = sub.add_parser(
        "fit",
        parents=[conn, csv_columns, budget, following],
        help="train a model on a CSV file of series (long format)",
        description="Send the series of a long-format CSV file to POST /fit: one row per "
        "observation, with a series id, a time (a number, or ISO-8601 with an offset) and one "
        "column per dimension; an empty cell is a missing value, and a row whose values are all "
        "empty is skipped. Prints the job and model ids; --wait follows the job to its end.",
    )
    fit.add_argument("file", type=Path, metavar="FILE.csv")
    fit.add_argument("--name", help="the model's name (default: the file's name)")
    fit.add_argument(
        "--idempotency-key", metavar="KEY", help="the same key and file give the same job"
    )
    fit.add_argument("-q", "--quiet", action="store_true", help="print only the model id")
    fit.set_defaults(func=cmd_fit)

    refit = sub.add_parser(
        "refit",
        parents=[conn, csv_columns, budget, following],
        help="add a CSV file's observations to a trained model and train its next version",
        description="Send a long-format CSV file (as fit reads it) to POST /models/MODEL/refit: "
        "new times of the model's series, or new series. The next version trains from the "
        "model's weights; the current one answers until it is done. Prints the job and version.",
    )
    refit.add_argument("model_id", metavar="MODEL")
    refit.add_argument("file", type=Path, metavar="FILE.csv")
    refit.add_argument("-q", "--quiet", action="store_true", help="print only the new version")
    refit.set_defaults(func=cmd_refit)

    jobs = sub.add_parser("jobs", parents=[conn], help="list recent training jobs, newest first")
    jobs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    jobs.set_defaults(func=cmd_jobs)

    models = sub.add_parser("models", parents=[conn], help="list the models, oldest first")
    models.add_argument("model_id", nargs="?", help="one model (with --backtest)")
    models.add_argument(
        "--backtest", action="store_true", help="the model's forecast backtest, per origin"
    )
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(func=cmd_models)

    predict = sub.add_parser(
        "predict",
        parents=[conn],
        help="predict a training series at some times, with intervals",
        description="Predict series ID of MODEL at the times of --at, or on the grid of --grid "
        "(START and STOP included). Prints a table (time, dim, mean, lower_L and upper_L for "
        "each level, kind), or writes it to --csv; --plot saves the PNG of GET /predict.png.",
    )
    predict.add_argument("model_id", metavar="MODEL")
    which = predict.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--series",
        dest="series_ids",
        type=id_list,
        metavar="ID[,ID...]",
        help="training series; several (comma-separated) are answered by one POST "
        "/predict/batch, with an id column",
    )
    which.add_argument(
        "--all", action="store_true", help="every training series of the model, in one batch"
    )
    when = predict.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--at",
        nargs="+",
        action="extend",
        type=time_value,
        metavar="TIME",
        help="times (numbers or ISO-8601); several after one --at, or --at repeated",
    )
    when.add_argument(
        "--grid",
        type=grid,
        metavar="START:STOP:NUM",
        help="NUM times from START to STOP; write START,STOP,NUM for ISO-8601 datetimes "
        "(they contain ':')",
    )
    predict.add_argument(
        "--level",
        type=float,
        action="append",
        metavar="L",
        help="central interval level, 0-100 exclusive; repeat for more (default: 80)",
    )
    predict.add_argument("--plot", type=Path, metavar="OUT.png", help="save the plot as PNG")
    answer = predict.add_mutually_exclusive_group()  # --json had silently skipped --csv
    answer.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the table as CSV")
    answer.add_argument("--json", action="store_true", help="print the API's JSON answer")
    predict.set_defaults(func=cmd_predict)

    cancel = sub.add_parser("cancel", parents=[conn], help="cancel a queued or running job")
    cancel.add_argument("job_id", metavar="JOB")
    cancel.set_defaults(func=cmd_cancel)

    delete = sub.add_parser("delete", parents=[conn], help="delete models and their files")
    delete.add_argument("model_ids", nargs="+", metavar="MODEL")
    delete.set_defaults(func=cmd_delete)
