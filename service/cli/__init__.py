"""The ``odecast`` command: ``odecast up`` (everything on one machine), ``odecast api`` and
``odecast worker`` (the parts alone, for containers), and the client commands ``fit``, ``jobs``,
``models``, ``predict``, ``cancel`` and ``delete``, which talk to a running API (``--url`` or
``ODECAST_URL``, ``--api-key`` or ``ODECAST_API_KEY``) through ``service.client``.

This module stays light to import: torch, FastAPI, uvicorn and httpx are imported inside the
subcommand that needs them, so ``odecast --help`` answers at once. Exit codes: 0 on success (a
clean shutdown), 2 for bad usage, bad ``ODECAST_*`` settings or a CSV file that cannot be read,
1 for a failure: the server said no, a job failed, or the server cannot be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from service.cli.arguments import (
    api_process_count,
    column_list,
    device,
    grid,
    id_list,
    port_number,
    positive,
    time_value,
    worker_count,
)
from service.cli.children import dying_with_parent as dying_with_parent
from service.cli.csv_input import CsvSeries, read_series_csv
from service.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from service.cli.output import (
    SKILL_JOBS,
    csv_text,
    fmt,
    fmt_seconds,
    fmt_when,
    note,
    prediction_table,
    print_fields,
    print_json,
    print_table,
    skill_text,
    write_file,
)
from service.cli.servers import _tcp_listener as _tcp_listener
from service.cli.servers import cmd_api, cmd_up, cmd_worker

# The client commands (fit, jobs, models, predict, cancel, delete) talk to this API unless --url
# or ODECAST_URL says otherwise.
DEFAULT_URL = "http://127.0.0.1:8000"


# --------------------------------------------------------------------------- argument parsing


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
        "--store", help="the model store: a folder or s3://bucket/prefix (default: ODECAST_STORE)"
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
        "--device",
        type=device,
        help="train on auto (CUDA if torch sees one), cpu, cuda or cuda:N "
        "(default: ODECAST_WORKER_DEVICE)",
    )
    worker.set_defaults(func=cmd_worker)
    _add_client_commands(sub)
    return parser


def _add_client_commands(sub: Any) -> None:
    """``fit``, ``jobs``, ``models``, ``predict``, ``cancel``, ``delete``: talk to a running API."""
    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument(
        "--url", help=f"the API's base URL (default: $ODECAST_URL, else {DEFAULT_URL})"
    )
    conn.add_argument(
        "--api-key",
        metavar="KEY",
        help="sent as X-API-Key when the API has keys (default: $ODECAST_API_KEY)",
    )

    fit = sub.add_parser(
        "fit",
        parents=[conn],
        help="train a model on a CSV file of series (long format)",
        description="Send the series of a long-format CSV file to POST /fit: one row per "
        "observation, with a series id, a time (a number, or ISO-8601 with an offset) and one "
        "column per dimension; an empty cell is a missing value, and a row whose values are all "
        "empty is skipped. Prints the job and model ids; --wait follows the job to its end.",
    )
    fit.add_argument("file", type=Path, metavar="FILE.csv")
    fit.add_argument(
        "--id-col", default="id", metavar="NAME", help="column of series ids (default: id)"
    )
    fit.add_argument(
        "--time-col", default="time", metavar="NAME", help="column of times (default: time)"
    )
    fit.add_argument(
        "--value-cols",
        type=column_list,
        metavar="A,B,...",
        help="value columns, comma-separated, one per dimension (default: every other column)",
    )
    fit.add_argument("--name", help="the model's name (default: the file's name)")
    fit.add_argument(
        "--epochs", type=positive(int), metavar="N", help="training.epochs (server default 600)"
    )
    fit.add_argument(
        "--max-seconds",
        type=positive(float),
        metavar="S",
        help="training.max_seconds, the time budget (server default 240)",
    )
    fit.add_argument(
        "--idempotency-key", metavar="KEY", help="the same key and file give the same job"
    )
    fit.add_argument(
        "--wait",
        action="store_true",
        help="follow the job (progress on stderr) until it ends; exit 1 unless it succeeded",
    )
    fit.add_argument("-q", "--quiet", action="store_true", help="print only the model id")
    fit.set_defaults(func=cmd_fit)

    jobs = sub.add_parser("jobs", parents=[conn], help="list recent training jobs, newest first")
    jobs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    jobs.set_defaults(func=cmd_jobs)

    models = sub.add_parser("models", parents=[conn], help="list the models, oldest first")
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
    predict.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the table as CSV")
    predict.add_argument("--plot", type=Path, metavar="OUT.png", help="save the plot as PNG")
    predict.add_argument("--json", action="store_true", help="print the API's JSON answer")
    predict.set_defaults(func=cmd_predict)

    cancel = sub.add_parser("cancel", parents=[conn], help="cancel a queued or running job")
    cancel.add_argument("job_id", metavar="JOB")
    cancel.set_defaults(func=cmd_cancel)

    delete = sub.add_parser("delete", parents=[conn], help="delete models and their files")
    delete.add_argument("model_ids", nargs="+", metavar="MODEL")
    delete.set_defaults(func=cmd_delete)


def main(argv: list[str] | None = None) -> int:
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


# --------------------------------------------------------------------------- client commands


def _connection(args: argparse.Namespace) -> tuple[str, str | None]:
    url = (args.url or os.environ.get("ODECAST_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--url {url!r}: give an http:// or https:// URL", EXIT_USAGE)
    return url, args.api_key or os.environ.get("ODECAST_API_KEY") or None


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    """A ``service.client.Client`` for ``--url`` and ``--api-key``; what the server refuses, or
    a server that does not answer, becomes a CliError (exit code 1)."""
    url, api_key = _connection(args)
    from service.client import ApiError, Client, ClientError, ServerUnavailable

    client = Client(url, api_key)
    try:
        yield client
    except ServerUnavailable as exc:
        if exc.status is not None:  # it answered 502, 503 or 504 to every retry
            raise CliError(str(exc)) from None
        raise CliError(
            f"cannot reach the odecast API at {url} ({exc.message}, {exc.attempts} attempt(s)); "
            "is it running (`make run`, `odecast up`)? Point --url or ODECAST_URL at it"
        ) from None
    except ApiError as exc:
        hint = ""
        if exc.status == 401:
            hint = " (give the key with --api-key or ODECAST_API_KEY)"
        raise CliError(f"{exc}{hint}") from None
    except ClientError as exc:
        raise CliError(str(exc)) from None
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def cmd_fit(args: argparse.Namespace) -> int:
    data = read_series_csv(args.file, args.id_col, args.time_col, args.value_cols)
    if data.skipped:
        shown = ", ".join(map(str, data.skipped[:10])) + (", ..." if len(data.skipped) > 10 else "")
        note(f"skipped {len(data.skipped)} row(s) of {args.file} with no values (line {shown})")
    dims = ", ".join(f"{i} {c}" for i, c in enumerate(data.value_cols))
    note(
        f"{len(data.series)} series, {data.rows} rows from {args.file}; dims: {dims}",
        quiet=args.quiet,
    )
    training = {
        key: value
        for key, value in (("epochs", args.epochs), ("max_seconds", args.max_seconds))
        if value is not None
    }
    from service.client import ApiError

    with _client(args) as client:
        try:
            accepted = client.fit(
                data.series,
                training=training or None,
                name=args.name if args.name is not None else args.file.name[:200],
                idempotency_key=args.idempotency_key,
            )
        except ApiError as exc:
            raise CliError(str(exc) + _csv_lines(exc.details, data, args.file)) from None
        if args.quiet:
            print(accepted.model_id, flush=True)
        else:
            print_fields({"job_id": accepted.job_id, "model_id": accepted.model_id})
        if not args.wait:
            return EXIT_OK
        try:
            job = client.wait(accepted.job_id, progress=True, stream=sys.stderr)
        except KeyboardInterrupt:
            note(
                f"stopped waiting; job {accepted.job_id} goes on "
                f"(`odecast jobs`, `odecast cancel {accepted.job_id}`)"
            )
            return 130
        if job.status != "succeeded":
            status = "was cancelled" if job.status == "cancelled" else job.status
            raise CliError(f"job {job.job_id} {status}" + (f": {job.error}" if job.error else ""))
        if not args.quiet:
            model = client.model(accepted.model_id)
            metrics = {k: fmt(v) for k, v in (model.metrics or {}).items()}
            skill = {
                f"{job}_skill": text for job in SKILL_JOBS if (text := skill_text(model.skill, job))
            }
            print_fields({"status": job.status, **metrics, **skill})
    return EXIT_OK


def _csv_lines(details: list[dict[str, Any]] | None, data: CsvSeries, path: Path) -> str:
    """The server's problems with a series, each with its line in the CSV file."""
    out = []
    for problem in details or []:
        series, index = problem.get("series"), problem.get("index")
        line = data.lines.get((series, index))
        if line is not None:
            out.append(f"\n  {series}[{index}] is {path} line {line}")
    return "".join(out)


def cmd_jobs(args: argparse.Namespace) -> int:
    with _client(args) as client:
        jobs = client.jobs()
    if args.json:
        return print_json(jobs)
    rows = []
    for job in jobs:
        p = job.progress
        epoch = "" if p.epoch is None else f"{p.epoch}/{p.epochs or '?'}"
        rows.append(
            [
                job.job_id,
                job.model_id or "",
                job.status,
                epoch,
                fmt(p.loss),
                fmt_seconds(p.elapsed_s),
                fmt_seconds(p.eta_s) if job.status == "running" else "",
                fmt_when(job.created_at),
                job.error or "",
            ]
        )
    headers = ["JOB", "MODEL", "STATUS", "EPOCH", "LOSS", "ELAPSED", "ETA", "CREATED", "ERROR"]
    print_table(headers, rows, empty="no jobs")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = client.models()
    if args.json:
        return print_json(models)
    rows = [
        [
            m.model_id,
            m.name or "",
            m.status,
            str(m.dims),
            str(m.n_series),
            str(m.n_points),
            skill_text(m.skill, "interpolation"),
            skill_text(m.skill, "extrapolation"),
            fmt_when(m.created_at),
        ]
        for m in models
    ]
    headers = ["MODEL", "NAME", "STATUS", "DIMS", "SERIES", "POINTS", "INTERP", "EXTRAP"]
    print_table([*headers, "CREATED"], rows, empty="no models")
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    ask: dict[str, Any] = {"times": args.at, "grid": args.grid, "level": args.level}
    with _client(args) as client:
        series_ids = client.model(args.model_id).series_ids if args.all else args.series_ids
        if len(series_ids) > 1 or args.all:
            if args.plot is not None:
                raise CliError("--plot draws one series; give one --series", EXIT_USAGE)
            return _print_batch(
                args, client.predict_batch(args.model_id, series_ids=series_ids, **ask)
            )
        prediction = None
        if args.csv is not None or args.json or args.plot is None:
            prediction = client.predict(args.model_id, series_id=series_ids[0], **ask)
        png = client.plot(args.model_id, series_ids[0], **ask) if args.plot else None
    if prediction is not None:
        _print_prediction(args, prediction, prediction_table(prediction), len(prediction.times))
    if png is not None:
        write_file(args.plot, png)
        print(f"wrote {args.plot} ({len(png)} bytes)")
    return EXIT_OK


def _print_batch(args: argparse.Namespace, batch: Any) -> int:
    for error in batch.errors:
        note(f"series #{error['index']}: {error['message']}")
    rows = batch.to_rows()
    headers = list(rows[0]) if rows else ["id", "time", "dim", "mean", "kind"]
    times = sum(len(p.times) for p in batch.predictions if p is not None)
    _print_prediction(args, batch, (headers, [list(r.values()) for r in rows]), times)
    return EXIT_FAILURE if batch.errors else EXIT_OK


def _print_prediction(
    args: argparse.Namespace, answer: Any, table: tuple[list[str], list[list[Any]]], times: int
) -> None:
    headers, rows = table
    if args.json:
        print_json(answer)
    elif args.csv is not None:
        write_file(args.csv, csv_text(headers, rows).encode())
        shape = f"{times} times x {len(rows) // max(1, times)}"
        print(f"wrote {args.csv} ({len(rows)} rows: {shape} dims)")
    else:
        shown = [[fmt(v, ".6g") if isinstance(v, float) else str(v) for v in r] for r in rows]
        print_table(headers, shown)


def cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.cancel(args.job_id)
    state = "cancelled" if job.status == "cancelled" else "stops at its next epoch"
    print(f"job {job.job_id} {state}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for model_id in args.model_ids:
            client.delete_model(model_id)
            print(f"deleted model {model_id}")
    return EXIT_OK


# --------------------------------------------------------------------------- up
