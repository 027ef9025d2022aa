"""The client commands ``fit``, ``jobs``, ``models``, ``predict``, ``cancel`` and ``delete``.

They talk to a running API through ``service.client`` (imported when a command runs: httpx is
slow to import) and turn what the server refuses into ``CliError``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from service.defaults import DEFAULT_URL

if TYPE_CHECKING:
    # Only for the hints: httpx, which service.client imports, stays out of `odecast --help`.
    from service.client import Client

# The client commands (fit, jobs, models, predict, cancel, delete) talk to this API unless --url
# or ODECAST_URL says otherwise.


def _connection(args: argparse.Namespace) -> tuple[str, str | None]:
    url = (args.url or os.environ.get("ODECAST_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"--url {url!r}: give an http:// or https:// URL", EXIT_USAGE)
    return url, args.api_key or os.environ.get("ODECAST_API_KEY") or None


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Client]:
    """A ``service.client.Client`` for ``--url`` and ``--api-key``; what the server refuses, or
    a server that does not answer, becomes a CliError (exit code 1)."""
    url, api_key = _connection(args)
    from service.client import ApiError, Client, ClientError, ServerUnavailable

    try:
        client = Client(url, api_key)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
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
    except ValueError as exc:  # the client's checks of what it was asked (a grid, a key)
        raise CliError(str(exc), EXIT_USAGE) from None
    except (KeyError, TypeError) as exc:  # an answer without the fields the API sends
        raise CliError(
            f"the answer from {url} is not what odecast's API sends "
            f"({type(exc).__name__}: {exc}); is --url or ODECAST_URL an odecast API?"
        ) from None
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def cmd_fit(args: argparse.Namespace) -> int:
    data = _read_csv(args)
    training = _training(args)
    from service.client import ApiError

    with _client(args) as client:
        try:
            accepted = client.fit(
                data.series,
                training=training or None,
                name=args.name if args.name is not None else _printable(args.file.name)[:200],
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
        told = f"model {accepted.model_id} predicts now (stage provisional: the cheap candidates)"
        job = _waited(client, accepted.job_id, told + "; the latent ODE trains on")
        if job is None:
            return 130
        if not args.quiet:
            model = client.model(accepted.model_id)
            metrics = {k: fmt(v) for k, v in (model.metrics or {}).items()}
            skill = {
                f"{job}_skill": text for job in SKILL_JOBS if (text := skill_text(model.skill, job))
            }
            print_fields({"status": job.status, **metrics, **skill})
    return EXIT_OK


def cmd_refit(args: argparse.Namespace) -> int:
    data = _read_csv(args)
    training = _training(args)
    from service.client import ApiError

    with _client(args) as client:
        try:
            accepted = client.refit(args.model_id, data.series, training=training or None)
        except ApiError as exc:
            raise CliError(str(exc) + _csv_lines(exc.details, data, args.file)) from None
        if args.quiet:
            print(accepted.version, flush=True)
        else:
            print_fields({"job_id": accepted.job_id, "version": str(accepted.version)})
        if not args.wait:
            return EXIT_OK
        if _waited(client, accepted.job_id, None) is None:
            return 130
        if not args.quiet:
            model = client.model(args.model_id)
            print_fields({"status": "succeeded", "serving_version": str(model.version)})
    return EXIT_OK


def _read_csv(args: argparse.Namespace) -> CsvSeries:
    """The series of ``args.file``, the skipped rows and what was read said on stderr."""
    data = read_series_csv(args.file, args.id_col, args.time_col, args.value_cols)
    if data.skipped:
        shown = ", ".join(map(str, data.skipped[:10])) + (", ..." if len(data.skipped) > 10 else "")
        note(f"skipped {len(data.skipped)} row(s) of {args.file} with no values (line {shown})")
    dims = ", ".join(f"{i} {c}" for i, c in enumerate(data.value_cols))
    note(
        f"{len(data.series)} series, {data.rows} rows from {args.file}; dims: {dims}",
        quiet=args.quiet,
    )
    return data


def _training(args: argparse.Namespace) -> dict[str, Any]:
    """The training settings given as options."""
    given = (("epochs", args.epochs), ("max_seconds", args.max_seconds))
    return {key: value for key, value in given if value is not None}


def _waited(client: Any, job_id: str, provisional: str | None) -> Any:
    """Follow the job to its end (progress on stderr; ``provisional`` said once the model
    predicts); the ended job, None on Ctrl-C; CliError unless it succeeded."""
    try:
        job = client.wait(
            job_id,
            progress=True,
            stream=sys.stderr,
            on_provisional=None if provisional is None else lambda _: note(provisional),
        )
    except KeyboardInterrupt:
        note(f"stopped waiting; job {job_id} goes on (`odecast jobs`, `odecast cancel {job_id}`)")
        return None
    if job.status != "succeeded":
        status = "was cancelled" if job.status == "cancelled" else job.status
        raise CliError(f"job {job.job_id} {status}" + (f": {job.error}" if job.error else ""))
    return job


def _printable(text: str) -> str:
    """``text`` with control characters as "?" (the API refuses them in a name)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _csv_lines(details: list[dict[str, Any]] | None, data: CsvSeries, path: Path) -> str:
    """The server's problems with a series, each with its line in the CSV file."""
    out = []
    for problem in details or []:
        series, index = problem.get("series"), problem.get("index")
        if not isinstance(series, str) or not isinstance(index, int):
            continue
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
    if args.backtest or args.model_id:
        return _backtest(args)
    with _client(args) as client:
        models = client.models()
    if args.json:
        return print_json(models)
    rows = [
        [
            m.model_id,
            m.name or "",
            m.status or "",
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


def _backtest(args: argparse.Namespace) -> int:
    """``odecast models ID --backtest``: per dimension and origin, the served forecast's MSE
    beside the naive methods'."""
    if not (args.backtest and args.model_id):
        raise CliError("odecast models: give a model id and --backtest together", EXIT_USAGE)
    with _client(args) as client:
        table = client.backtest(args.model_id)
    if args.json:
        return print_json(table)
    for d, dim in enumerate(table["dims"]):
        who = "the latent ODE" if dim.get("model_serves") else dim["served"]
        horizon = f"{dim['horizon']:g}"
        print(f"dimension {d}: served by {who}; backtest of {dim['served']}, horizon {horizon}")
        names = list(dim["origins"][0]["mse"]) if dim["origins"] else []
        rows = [
            [o["series"], f"{o['cut']:g}", str(o["points"]), *[f"{o['mse'][n]:.4g}" for n in names]]
            for o in dim["origins"]
        ]
        print_table(
            ["SERIES", "ORIGIN", "POINTS", *[n.upper() for n in names]], rows, empty="no origins"
        )
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
    """Every model asked is tried; one that cannot be deleted is reported, and the exit code
    is 1 if any could not."""
    from service.client import ApiError

    failed = 0
    with _client(args) as client:
        for model_id in args.model_ids:
            try:
                client.delete_model(model_id)
            except ApiError as exc:
                note(f"model {model_id}: {exc}")
                failed += 1
            else:
                print(f"deleted model {model_id}")
    return EXIT_FAILURE if failed else EXIT_OK
