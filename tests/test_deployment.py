"""The deployment files name only things that exist: the Dockerfile, .dockerignore and
docker-compose.yml are read here and checked against the project (paths, the ``odecast`` command
line, ``ODECAST_*`` settings, ports) and against the rules of the deployment (non-root user, Redis
persistence, GPU workers, shutdown grace). No Docker daemon is needed; ``docker-compose config``
also validates the compose file where that binary is installed."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_GPU = ROOT / "docker-compose.gpu.yml"

# ODECAST_* variables that the deployment files may name before Settings has their field: a
# later change adds each one. Once the field exists, it is checked like every other.
LATER = frozenset({"ODECAST_API_KEYS"})

STORE_MOUNT = "/data"
MIN_WORKER_GRACE_S = 60.0
# Compose file versions that docker-compose 1.29 (Debian's) knows.
COMPOSE_V1_KNOWS = {"3", *(f"3.{minor}" for minor in range(10))}
TOP_LEVEL_KEYS = {"version", "services", "volumes", "networks", "secrets", "configs", "name"}


# --------------------------------------------------------------------------- Dockerfile parsing


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the instruction, continuation lines joined
    line: int  # where it starts (1-based)

    def json_form(self) -> list[str] | None:
        """The exec (JSON array) form's items, or None for the shell form."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None

    def words(self) -> list[str]:
        form = self.json_form()
        return form if form is not None else shlex.split(self.args, posix=True)

    def __str__(self) -> str:
        return f"Dockerfile:{self.line}: {self.keyword} {self.args}"


@dataclass
class Stage:
    index: int
    base: str  # as written, before ARG substitution
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def args(self) -> dict[str, str | None]:
        return dict(_arg_decl(i) for i in self.all("ARG"))

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            values.update(_env_pairs(instruction))
        return values

    def run_text(self) -> str:
        return "\n".join(i.args for i in self.all("RUN"))


@dataclass
class Dockerfile:
    global_args: dict[str, str | None]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name or str(stage.index) == name:
                return stage
        raise AssertionError(f"no stage named {name!r} in the Dockerfile")

    def instructions(self) -> Iterator[Instruction]:
        for stage in self.stages:
            yield from stage.instructions


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, instruction text): comments dropped, continuations joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and pending):
            continue  # comments and blank lines may sit inside a continued instruction
        if not stripped:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        yield start, " ".join(part for part in pending if part)
        pending = []
    if pending:
        raise AssertionError(f"Dockerfile:{start}: the file ends inside a continued instruction")


def parse_dockerfile(text: str) -> Dockerfile:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for line, logical in _logical_lines(text):
        keyword, _, rest = logical.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip(), line)
        if instruction.keyword == "FROM":
            words = [w for w in instruction.words() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
            assert len(words) in (1, 3), f"{instruction}: expected FROM image [AS name]"
            stages.append(Stage(len(stages), words[0], name))
        elif not stages:
            assert instruction.keyword == "ARG", f"{instruction}: only ARG may precede FROM"
            global_args.update([_arg_decl(instruction)])
        else:
            stages[-1].instructions.append(instruction)
    assert stages, "the Dockerfile has no FROM"
    return Dockerfile(global_args, stages)


def _arg_decl(instruction: Instruction) -> tuple[str, str | None]:
    words = instruction.words()
    assert len(words) == 1, f"{instruction}: declare one ARG per line"
    name, sep, default = words[0].partition("=")
    return name, default if sep else None


def _env_pairs(instruction: Instruction) -> dict[str, str]:
    words = shlex.split(instruction.args, posix=True)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return {words[0]: " ".join(words[1:])}
    pairs = {}
    for word in words:
        key, sep, value = word.partition("=")
        assert sep, f"{instruction}: {word!r} is not KEY=value"
        pairs[key] = value
    return pairs


def _options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading ``--flag=value`` options of an instruction, and the words after them."""
    options: dict[str, str] = {}
    rest = list(words)
    while rest and rest[0].startswith("--"):
        key, _, value = rest.pop(0)[2:].partition("=")
        options[key] = value
    return options, rest


def _copy_parts(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """A COPY's options, sources and destination (exec and shell forms)."""
    options, rest = _options(shlex.split(instruction.args, posix=True))
    text = instruction.args
    for flag in [f"--{k}={v}" for k, v in options.items()]:
        text = text.replace(flag, "", 1)
    form = Instruction("COPY", text.strip(), instruction.line).json_form()
    items = form if form is not None else rest
    assert len(items) >= 2, f"{instruction}: COPY needs a source and a destination"
    return options, items[:-1], items[-1]


def _healthcheck(instruction: Instruction) -> tuple[dict[str, str], list[str] | None]:
    """A HEALTHCHECK's options and command (exec form as given; shell form as sh -c)."""
    options, rest = _options(shlex.split(instruction.args, posix=True))
    if rest and rest[0].upper() == "NONE":
        return options, None
    assert rest and rest[0].upper() == "CMD", f"{instruction}: expected HEALTHCHECK [opts] CMD"
    text = instruction.args[instruction.args.upper().index("CMD") + 3 :].strip()
    form = Instruction("CMD", text, instruction.line).json_form()
    return options, form if form is not None else ["/bin/sh", "-c", text]


_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+?])?(?P<word>[^}]*)\}|"
                  r"(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")  # fmt: skip


def substitute(text: str, values: Mapping[str, str | None]) -> str:
    """``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}`` as Docker and Compose
    expand them; ``$$`` is a literal ``$``."""

    def one(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        value = values.get(name)
        op = match["op"]
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            return match["word"] if unset else str(value)
        assert op is None, f"{match[0]!r}: substitution {op!r} is not handled here"
        return "" if value is None else value

    parts = text.split("$$")
    return "$".join(_VAR.sub(one, part) for part in parts)


@cache
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


# --------------------------------------------------------------------------- .dockerignore


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, regex) per .dockerignore line, in order: Docker's Go-style patterns, relative to
    the context root, ``**`` spanning folders, ``!`` re-including."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip().strip("/"))
        regex, i = "", 0
        while i < len(pattern):
            c = pattern[i]
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
                continue
            if pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
                continue
            if c == "*":
                regex += "[^/]*"
            elif c == "?":
                regex += "[^/]"
            elif c == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end
            else:
                regex += re.escape(c)
            i += 1
        rules.append((exclude, re.compile(regex + r"\Z")))
    return rules


def dockerignored(path: str) -> bool:
    """Whether Docker leaves ``path`` (relative to the repo root) out of the build context: a
    pattern that matches a folder excludes everything in it; the last matching rule decides."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for exclude, regex in _ignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            ignored = exclude
    return ignored


# --------------------------------------------------------------------------- compose


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@cache
def gpu_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_GPU.read_text())
    assert isinstance(data, dict), "docker-compose.gpu.yml is not a mapping"
    return data


def service(name: str) -> dict[str, Any]:
    services = compose().get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def command_words(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def environment(svc: Mapping[str, Any]) -> dict[str, str | None]:
    env = svc.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", "KEY"]
        pairs = (item.partition("=") for item in env)
        return {k: (v if sep else None) for k, sep, v in pairs}
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def parse_duration(text: str | int | float) -> float:
    """Compose durations: ``90s``, ``1m30s``, ``1h``, ``500ms``, ``2.5s``; a bare number is s."""
    if isinstance(text, int | float):
        return float(text)
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text!r}"
    return sum(float(n) * units[u] for n, u in parts)


def volume_mounts(svc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume of a service (short and long syntax)."""
    mounts = []
    for item in svc.get("volumes") or []:
        if isinstance(item, str):
            source, _, rest = item.partition(":")
            mounts.append((source, rest.split(":")[0]))
        else:
            mounts.append((item.get("source", ""), item["target"]))
    return mounts


def depends_on_healthy(svc: Mapping[str, Any], on: str) -> bool:
    deps = svc.get("depends_on") or {}
    return isinstance(deps, dict) and (deps.get(on) or {}).get("condition") == "service_healthy"


def dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None where a level is missing or empty."""
    for key in keys:
        if not isinstance(data, Mapping) or not data.get(key):
            return None
        data = data[key]
    return data


def structure_problems(data: Mapping[str, Any]) -> list[str]:
    """The deployment's rules, checked on the parsed compose file; empty when it keeps them all."""
    problems: list[str] = []
    version = str(data.get("version", ""))
    if version not in COMPOSE_V1_KNOWS:
        problems.append(f"version {version!r}: docker-compose 1.29 reads 3.0-3.9")
    for key in data:
        if key not in TOP_LEVEL_KEYS and not str(key).startswith("x-"):
            problems.append(f"unknown top-level key {key!r}")
    services = data.get("services") or {}
    for name in ("redis", "api", "worker"):
        if name not in services:
            problems.append(f"no service {name!r}")
    if problems:
        return problems
    declared = set(data.get("volumes") or {})
    used = set()
    for name, svc in services.items():
        for source, _target in volume_mounts(svc):
            if source and not source.startswith((".", "/", "~")):
                used.add(source)
                if source not in declared:
                    problems.append(f"{name}: named volume {source!r} is not declared")
        if "image" not in svc and "build" not in svc:
            problems.append(f"{name}: neither image nor build")
    problems += [f"volume {v!r} is declared but no service uses it" for v in declared - used]

    redis = services["redis"]
    redis_cmd = command_words(redis.get("command") or [])
    joined = " ".join(redis_cmd)
    if "--appendonly yes" not in joined:
        problems.append("redis: no --appendonly yes")
    if "--maxmemory-policy noeviction" not in joined:
        problems.append("redis: no --maxmemory-policy noeviction")
    test = (redis.get("healthcheck") or {}).get("test") or []
    if "redis-cli ping" not in " ".join(command_words(test)):
        problems.append("redis: its healthcheck is not redis-cli ping")
    if not str(redis.get("image", "")).startswith("redis:"):
        problems.append("redis: expected an official redis:* image")
    if ("redis-data", "/data") not in volume_mounts(redis):
        problems.append("redis: its AOF needs the redis-data volume at /data")

    for name in ("api", "worker"):
        svc = services[name]
        if not depends_on_healthy(svc, "redis"):
            problems.append(f"{name}: no depends_on redis with condition service_healthy")
        if ("odecast-store", STORE_MOUNT) not in volume_mounts(svc):
            problems.append(f"{name}: the store volume is not mounted at {STORE_MOUNT}")
        if svc.get("restart") != "unless-stopped":
            problems.append(f"{name}: restart is not unless-stopped")

    worker = services["worker"]
    if "container_name" in worker:
        problems.append("worker: container_name stops `--scale worker=N`")
    if worker.get("ports"):
        problems.append("worker: a published port stops `--scale worker=N`")
    if dig(worker, "deploy", "resources", "reservations", "devices"):
        problems.append(
            "worker: reserves a device, so `docker compose up` fails on a host without the "
            "NVIDIA runtime; GPUs belong in docker-compose.gpu.yml"
        )
    grace = worker.get("stop_grace_period")
    if grace is None or parse_duration(grace) < MIN_WORKER_GRACE_S:
        problems.append(f"worker: stop_grace_period {grace!r} is under {MIN_WORKER_GRACE_S:.0f} s")
    return problems


# --------------------------------------------------------------------------- the CLI


def console_script() -> tuple[str, str]:
    """(name, "module:function") of the project's one console script."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "odecast" in scripts, "pyproject.toml declares no `odecast` console script"
    return "odecast", scripts["odecast"]


def parse_cli(argv: list[str], where: str) -> Any:
    """``argv`` (a command line from a deployment file) parsed by the real ``odecast`` parser."""
    name, target = console_script()
    assert argv and argv[0] == name, f"{where}: {argv} does not run the {name!r} console script"
    module_name, _, func = target.partition(":")
    module = __import__(module_name, fromlist=[func])
    assert callable(getattr(module, func, None)), f"{target} is not a function"
    parser = module.build_parser()
    try:
        return parser.parse_args(argv[1:])
    except SystemExit as exc:  # argparse reports the bad flag on stderr
        pytest.fail(f"{where}: `{shlex.join(argv)}` is not a valid odecast command line ({exc})")


def deployment_command_lines() -> list[tuple[str, list[str]]]:
    lines = []
    cmd = dockerfile().final.last("CMD")
    assert cmd is not None, "the final stage has no CMD"
    lines.append((str(cmd), cmd.words()))
    for name, svc in (compose().get("services") or {}).items():
        if "build" in svc and "command" in svc:
            lines.append((f"docker-compose.yml: {name}", command_words(svc["command"])))
    for name, svc in (gpu_compose().get("services") or {}).items():
        if "command" in svc:
            lines.append((f"docker-compose.gpu.yml: {name}", command_words(svc["command"])))
    return lines


def settings_default(name: str) -> Any:
    return Settings.model_fields[name].default


# =========================================================================== tests: Dockerfile


def test_dockerfile_is_multi_stage_on_the_python_image_argument():
    df = dockerfile()
    assert df.global_args.get("PYTHON_IMAGE") == "python:3.11-slim"
    assert [s.name for s in df.stages] == ["builder", "runtime"]
    for stage in df.stages:
        assert stage.base == "${PYTHON_IMAGE}", f"stage {stage.name} is not on PYTHON_IMAGE"
        assert substitute(stage.base, df.global_args) == "python:3.11-slim"
    args = df.stage("builder").args()
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    # The image's torch is the Makefile's pinned release.
    pin = re.search(r"^TORCH_SPEC \?= torch==(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert pin is not None, "the Makefile pins no torch release in TORCH_SPEC"
    assert args["TORCH_VERSION"] == pin[1]


def test_builder_installs_torch_from_its_index_before_the_project():
    builder = dockerfile().stage("builder")
    runs = [i.args for i in builder.all("RUN")]
    torch_at = next((n for n, r in enumerate(runs) if "torch==${TORCH_VERSION}" in r), None)
    project_at = next((n for n, r in enumerate(runs) if re.search(r"pip install /src\b", r)), None)
    assert torch_at is not None, "the builder does not install torch==${TORCH_VERSION}"
    assert '--index-url "${TORCH_INDEX_URL}"' in runs[torch_at]
    assert project_at is not None and project_at > torch_at, "torch must come before /src"
    assert "python3 -m venv /opt/venv" in builder.run_text()
    assert "/opt/venv/bin" in builder.env().get("PATH", "")


def test_every_copied_path_exists_and_reaches_the_build_context():
    df = dockerfile()
    names = [s.name for s in df.stages]
    copied_to_src: set[str] = set()
    copies = [(stage, i) for stage in df.stages for i in stage.all("COPY") + stage.all("ADD")]
    assert copies, "the Dockerfile copies nothing"
    for stage, instruction in copies:
        assert instruction.keyword == "COPY", f"{instruction}: use COPY, not ADD"
        options, sources, dest = _copy_parts(instruction)
        if "from" in options:
            earlier = names[: stage.index]
            assert options["from"] in earlier, f"{instruction}: no earlier stage {options['from']}"
            for source in sources:
                assert source in df.stage(options["from"]).run_text(), (
                    f"{instruction}: stage {options['from']} never makes {source}"
                )
            continue
        for source in sources:
            assert not Path(source).is_absolute() and ".." not in Path(source).parts, source
            path = ROOT / source
            assert path.exists(), f"{instruction}: {source} is not in the repository"
            assert not dockerignored(source), f"{instruction}: .dockerignore leaves {source} out"
            if path.is_dir():
                for file in path.rglob("*.py"):
                    rel = file.relative_to(ROOT).as_posix()
                    if "__pycache__" not in rel:
                        assert not dockerignored(rel), f".dockerignore leaves {rel} out"
            if dest.rstrip("/") == "/src" or dest.startswith("/src/"):
                target = dest.rstrip("/") if not dest.endswith("/") else dest + Path(source).name
                copied_to_src.add(Path(target).relative_to("/src").as_posix())

    # `pip install /src` needs what pyproject.toml names: its readme and every package it finds.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", project["project"]["readme"]}
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        top = pattern.rstrip("*").rstrip(".")
        if (ROOT / top / "__init__.py").exists():
            needed.add(top)
    assert needed <= copied_to_src, f"/src lacks {sorted(needed - copied_to_src)}"


def test_dockerignore_keeps_local_state_out_of_the_context():
    assert DOCKERIGNORE.exists()
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "odecast-data/models/m1/meta.json",
        "service/__pycache__",
        "service/__pycache__/cli.cpython-311.pyc",
        "models/ode/__pycache__/x.pyc",
        ".pytest_cache/v/cache/lastfailed",
        "tests/models/.pytest_cache/x",
        "odecast.egg-info/PKG-INFO",
        "bench/results.json",
    ):
        assert dockerignored(path), f".dockerignore lets {path} into the build context"
    for path in ("pyproject.toml", "README.md", "service/cli/parser.py", "models/ode/__init__.py"):
        assert not dockerignored(path), f".dockerignore leaves {path} out"


def test_runtime_runs_as_a_fixed_non_root_user_with_a_writable_store():
    runtime = dockerfile().final
    user = runtime.last("USER")
    assert user is not None, "the image runs as root: no USER"
    name = user.args.split(":")[0]
    assert name not in ("root", "0"), f"{user}: runs as root"
    setup = runtime.run_text()
    assert re.search(rf"useradd\b[^\n]*--uid 10001\b[^\n]*\b{name}\b", setup), (
        f"the runtime stage does not create user {name} with uid 10001"
    )
    env = runtime.env()
    assert env.get("ODECAST_STORE") == STORE_MOUNT
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert "/opt/venv/bin" in env.get("PATH", "")
    # The store folder exists in the image and belongs to the user, so a fresh named volume
    # mounted there is writable by it.
    assert f"mkdir -p {STORE_MOUNT}" in setup
    assert re.search(rf"chown [^\n]*\b{name}\b[^\n]* {re.escape(STORE_MOUNT)}\b", setup)
    # USER comes after everything that needs root.
    keywords = [i.keyword for i in runtime.instructions]
    assert "RUN" not in keywords[keywords.index("USER") :], "a RUN after USER runs unprivileged"


def test_exposed_port_and_healthcheck_match_the_api_default(tmp_path: Path):
    runtime = dockerfile().final
    port = settings_default("port")
    expose = runtime.last("EXPOSE")
    assert expose is not None and expose.words() == [str(port)], f"{expose}: expected {port}"
    check = runtime.last("HEALTHCHECK")
    assert check is not None, "the image has no HEALTHCHECK"
    options, argv = _healthcheck(check)
    assert argv is not None and argv[0] == "python", f"{check}: expected python (no curl in slim)"
    assert "urllib.request" in argv[-1]
    assert f"http://127.0.0.1:{port}/healthz" in argv[-1]
    assert {"interval", "timeout"} <= set(options)
    # The API really serves /healthz.
    from service.app import create_app

    app = create_app(Settings(store=tmp_path / "store"))
    assert "/healthz" in app.openapi()["paths"], "the API has no /healthz"


# =========================================================================== tests: both files


def test_command_lines_are_real_odecast_command_lines():
    lines = deployment_command_lines()
    assert len(lines) >= 3, lines
    commands = {}
    for where, argv in lines:
        args = parse_cli(argv, where)
        assert args.command in ("api", "worker"), f"{where}: containers run api or worker parts"
        commands[where] = args
        if args.command == "api":
            assert args.host == "0.0.0.0", f"{where}: the API must listen on all interfaces"
            assert args.port == settings_default("port"), f"{where}: port {args.port}"
    assert commands["docker-compose.yml: api"].command == "api"
    assert commands["docker-compose.yml: worker"].command == "worker"
    cmd = dockerfile().final.last("CMD")
    assert cmd is not None and cmd.json_form() is not None, "CMD must be exec form (signals)"


def test_a_bad_flag_fails_the_command_line_check():
    with pytest.raises(pytest.fail.Exception, match="not a valid odecast command line"):
        parse_cli(["odecast", "api", "--hots", "0.0.0.0"], "example")
    with pytest.raises(pytest.fail.Exception, match="not a valid odecast command line"):
        parse_cli(["odecast", "serve"], "example")


def test_every_odecast_variable_is_a_setting():
    fields = set(Settings.model_fields)
    prefix = Settings.model_config.get("env_prefix")
    assert prefix == "ODECAST_"
    for path in (DOCKERFILE, COMPOSE):
        names = set(re.findall(r"\bODECAST_[A-Z0-9_]+\b", path.read_text()))
        assert names, f"{path.name} names no ODECAST_ variable"
        for name in sorted(names):
            key = name.removeprefix(prefix).lower()
            if key not in fields:
                assert name in LATER, f"{path.name}: {name} is not a field of Settings"


def test_container_settings_are_valid_settings(monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.startswith("ODECAST_"):
            monkeypatch.delenv(name)
    image_env = dockerfile().final.env()
    for name in ("api", "worker"):
        env = {
            **{k: v for k, v in image_env.items() if k.startswith("ODECAST_")},
            **{k: v for k, v in environment(service(name)).items() if v is not None},
        }
        for key, value in env.items():
            if key.removeprefix("ODECAST_").lower() in Settings.model_fields:
                monkeypatch.setenv(key, value)
        settings = Settings()
        assert Path(settings.store) == Path(STORE_MOUNT), f"{name}: the store is not {STORE_MOUNT}"
        assert settings.redis_url == "redis://redis:6379/0", f"{name}: {settings.redis_url}"
        # ODECAST_API_KEYS passes through from the host: named, with no value of its own.
        assert "ODECAST_API_KEYS" in environment(service(name))
        assert environment(service(name))["ODECAST_API_KEYS"] is None


# =========================================================================== tests: compose


def test_compose_keeps_the_deployment_rules():
    assert structure_problems(compose()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "worker", "stop_grace_period"), "10s"),
        (("services", "worker", "container_name"), "odecast-worker"),
        (("services", "worker", "deploy"), {"resources": {"reservations": {"devices": [{}]}}}),
        (("services", "api", "depends_on"), ["redis"]),
        (("services", "redis", "command"), "redis-server"),
        (("services", "redis", "healthcheck"), None),
        (("volumes", "odecast-store"), None),
        (("version",), "4"),
    ],
)
def test_structure_check_catches_a_broken_file(path: tuple[str, ...], value: Any):
    data = yaml.safe_load(COMPOSE.read_text())
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    assert structure_problems(data), f"{'.'.join(path)} = {value!r} went unnoticed"


def test_api_publishes_the_settings_port():
    port = settings_default("port")
    api = service("api")
    published = [str(p) for p in api.get("ports") or []]
    assert published, "the api publishes no port"
    for item in published:
        host, _, container = substitute(item, {}).rpartition(":")
        assert container == str(port), f"{item}: the container side must be {port}"
        assert host == str(port), f"{item}: the default host side must be {port}"
    assert any("${ODECAST_PORT:-" in p for p in published), "the host port is not overridable"
    test = command_words((api.get("healthcheck") or {}).get("test") or [])
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(test)


def test_services_build_this_dockerfile_with_its_arguments():
    declared = set(dockerfile().global_args)
    for stage in dockerfile().stages:
        declared |= set(stage.args())
    for name in ("api", "worker"):
        build = service(name)["build"]
        build = {"context": build} if isinstance(build, str) else build
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
        for arg in build.get("args") or {}:
            assert arg in declared, f"{name}: build arg {arg} is not an ARG of the Dockerfile"
    worker_args = service("worker")["build"]["args"]
    index = substitute(str(worker_args["TORCH_INDEX_URL"]), {})
    assert "${TORCH_INDEX_URL:-" in str(worker_args["TORCH_INDEX_URL"])
    assert not index.endswith("/cpu"), "the worker image should default to a CUDA torch"


def test_worker_does_not_inherit_the_api_healthcheck():
    # The image's HEALTHCHECK probes the API; the worker serves no HTTP and would read unhealthy.
    check = dockerfile().final.last("HEALTHCHECK")
    assert check is not None
    worker_check = service("worker").get("healthcheck") or {}
    assert worker_check.get("disable") is True or (
        worker_check.get("test") and "/healthz" not in " ".join(command_words(worker_check["test"]))
    ), "the worker keeps the image's API healthcheck"


def test_gpus_are_opt_in_and_every_gpu_worker_is_pinned():
    services = gpu_compose().get("services") or {}
    assert services.get("worker"), "docker-compose.gpu.yml overrides no worker"
    assert str(gpu_compose().get("version")) in COMPOSE_V1_KNOWS
    base = compose().get("services") or {}
    pinned = []
    for name, svc in services.items():
        devices = dig(svc, "deploy", "resources", "reservations", "devices") or []
        gpus = [d for d in devices if d.get("driver") == "nvidia" and "gpu" in d["capabilities"]]
        assert len(gpus) == 1 and "count" not in gpus[0], f"{name}: one GPU by device_ids"
        (ids,) = [d["device_ids"] for d in gpus]
        assert len(ids) == 1, f"{name}: pinned to one GPU"
        pinned.append(ids[0])
        words = command_words(svc.get("command") or base[name]["command"])
        assert words[:2] == ["odecast", "worker"] and "--device" in words, name
        assert words[words.index("--device") + 1].startswith("cuda"), name
    assert len(set(pinned)) == len(pinned), "two workers pinned to the same GPU"
    assert "--device" in command_words(base["worker"]["command"])  # CPU by default


def test_docker_compose_validates_the_file():
    binary = shutil.which("docker-compose")
    if binary is not None:
        # Compose interpolates the host's variables: leave ours out, so the defaults are checked;
        # and leave the test's Python out of Debian's Python program.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ODECAST_", "TORCH_")) and k not in ("PYTHONPATH", "PYTHONHOME")
        }
        env.setdefault("PATH", os.defpath)
        for files in ([COMPOSE], [COMPOSE, COMPOSE_GPU]):
            done = subprocess.run(
                [binary, *(arg for f in files for arg in ("-f", str(f))), "config", "-q"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert "is not set" not in done.stderr, done.stderr  # every ${VAR} has a default
    # Without the binary (CI may lack it), and with it, the rules above on the parsed file.
    assert structure_problems(compose()) == []
    print(f"docker-compose: {binary or 'not installed; structure checked only'}", file=sys.stderr)
