"""Vector: the rendered pipeline checked by a VRL runtime, by Vector itself where it exists, and
the dead-letter cleanup by systemd-tmpfiles.

* ``vrl-python`` (the PyPI VRL runtime closest to Vector's VRL; ``checks.vrl_runtime``) runs
  the rendered unit tests (``tests.yaml``) as ``vector test`` does, for the VRL part of the
  pipeline: each test's input program, the ``decode`` remap, the ``sort`` route's conditions and
  every expected-output condition, all compiled and run by vrl-python. Stricter than ``vector
  test``: a route must receive exactly as many events as the test expects. The
  broker-statistics tests run the same way through their own remap (``render.broker_stats``; an
  ``abort`` is no output). Outputs of the ``log_to_metric`` transforms are Vector's own code,
  left to ``vector test``.
* Vector 0.57's loading rules, always: nothing in ``vector.yaml`` needs environment
  interpolation (off by default since 0.57: a ``${NAME}`` or ``$$`` would reach the component
  as written), and every ``SECRET[backend.key]`` resolves from the rendered secrets file
  (``render.vector_secrets``).
* ``vector validate --no-environment`` and ``vector test``, when a ``vector`` binary is on PATH
  (the Pi's image has one; Debian has none), run as the service runs Vector: from the config
  directory (the quadlet's ``WorkingDir``, where the secret backend's relative path points),
  with no ``VECTOR_*`` variable (Vector reads its command-line options from them, src/cli.rs;
  the quadlet sets none) and so without ``--dangerously-allow-env-var-interpolation``.
* ``systemd-tmpfiles --clean`` on a scratch root with an old and a fresh dead-letter file: the
  old one must go, the fresh one stay.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from sensor_bridge.checks import FAILED, NOT_CHECKED, OK, UNAVAILABLE, CheckResult
from sensor_bridge.registry import VECTOR
from sensor_bridge.render import RenderedFile, broker_stats, vector_secrets
from sensor_bridge.render.vector import DEAD_LETTER_KEEP_DAYS, ROUTE

NAME = VECTOR.name
TOOL = "vrl-python"
TIMEOUT_S = 120
_DAY_S = 86400


def check(root: Path, files: Sequence[RenderedFile]) -> list[CheckResult]:
    mine = {f.path.name: f for f in files if f.check == NAME}
    if not mine:
        return []
    config, tests = mine["vector.yaml"], mine["tests.yaml"]
    secrets_path = config.path.parent / vector_secrets.FILE_NAME
    secrets = next((f for f in files if f.path == secrets_path), None)
    results = [check_interpolation(config), check_secrets(config, secrets)]
    results.append(check_vrl(config, tests))
    results += _check_with_vector(root, config, tests)
    tmpfiles = [f for f in mine.values() if f.path.suffix == ".conf"]
    results += [_check_tmpfiles(f) for f in tmpfiles]
    return results


def load(text: str) -> dict[str, Any]:
    """A rendered YAML file as Vector 0.57 reads it: every ``$`` as written (no environment
    interpolation, src/config/loading/mod.rs ``prepare_input``)."""
    data: dict[str, Any] = yaml.safe_load(text)
    return data


INTERPOLATION = re.compile(r"\$\{[^}]*\}|\$\$")
"""What only environment interpolation gives a meaning: ``${NAME}`` and the ``$$`` escape."""
INTERPOLATION_TOOL = "no interpolation"
SECRETS_TOOL = "SECRET refs"


def check_interpolation(config: RenderedFile) -> CheckResult:
    """A config that would need environment interpolation fails, in one line with the fix."""
    found = INTERPOLATION.search(config.text)
    if found is None:
        return CheckResult(str(config.path), INTERPOLATION_TOOL, "-", OK)
    line = config.text.count("\n", 0, found.start()) + 1
    detail = (
        f"line {line}: {found.group(0)!r} needs environment interpolation, which Vector 0.57 "
        "leaves off (it would reach the component as written): give secrets as "
        f"SECRET[{vector_secrets.BACKEND}.key] from the secret backend and write $ once"
    )
    return CheckResult(str(config.path), INTERPOLATION_TOOL, "-", FAILED, detail)


def check_secrets(config: RenderedFile, secrets: RenderedFile | None) -> CheckResult:
    """Every ``SECRET[...]`` reference resolves from the rendered secrets file, and the
    resolved config is still the same YAML (each value stays one string)."""
    path = str(config.path)
    if secrets is None:
        detail = f"no {vector_secrets.FILE_NAME} beside it: run sensor-bridge render"
        return CheckResult(path, SECRETS_TOOL, "-", FAILED, detail)
    try:
        resolved = yaml.safe_load(vector_secrets.resolve(config.text, secrets.text))
    except (ValueError, yaml.YAMLError) as error:
        detail = f"{' '.join(str(error).split())}: run sensor-bridge render"
        return CheckResult(path, SECRETS_TOOL, "-", FAILED, detail)
    expected = yaml.safe_load(vector_secrets.REFERENCE.sub("x", config.text))
    if _shape(resolved) != _shape(expected):
        detail = "a secret changes the YAML's structure once pasted in: re-render"
        return CheckResult(path, SECRETS_TOOL, "-", FAILED, detail)
    count = len(vector_secrets.REFERENCE.findall(config.text))
    return CheckResult(path, SECRETS_TOOL, "-", OK, f"{count} references resolved")


def _shape(value: Any) -> Any:
    """The YAML's structure with every string made equal."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return "" if isinstance(value, str) else value


def check_vrl(config: RenderedFile, tests: RenderedFile) -> CheckResult:
    """Every rendered test, run through the rendered VRL with vrl-python."""
    from importlib.util import find_spec

    from sensor_bridge.checks import vrl_runtime

    # Not on the Pi (the `local` extra): there `vector test` runs the same tests in Vector.
    if find_spec("vrl_python") is None:
        return CheckResult(str(config.path), TOOL, "-", NOT_CHECKED, "pip install vrl-python")
    version = vrl_runtime.version()
    pipeline = load(config.text)["transforms"]
    cases = load(tests.text)["tests"]
    try:
        runner = _Runner(
            pipeline["decode"]["source"],
            pipeline[ROUTE]["route"],
            pipeline[broker_stats.TRANSFORM]["source"],
        )
        failures = [f"{case['name']}: {p}" for case in cases for p in runner.run(case)]
    except (vrl_runtime.VrlError, KeyError) as error:
        failures = [str(error).strip()]
    # pyo3 turns a Rust panic into PanicException, a BaseException.
    except BaseException as error:
        if type(error).__name__ != "PanicException":
            raise
        failures = [f"{TOOL} panicked: {error}"]
    if failures:
        return CheckResult(str(config.path), TOOL, version, FAILED, "\n".join(failures))
    stats = sum(_inserted_at(case) == broker_stats.TRANSFORM for case in cases)
    detail = (
        f"decode + {ROUTE} on {len(cases) - stats} contract examples, "
        f"{broker_stats.TRANSFORM} on {stats} $SYS messages"
    )
    return CheckResult(str(config.path), TOOL, version, OK, detail)


# A test's input program sets .message, .topic and .timestamp; the message comes back as base64
# (it may not be UTF-8). get() keeps the call fallible whatever the input program set.
_MESSAGE_OUT = '.message = encode_base64(string(get(., ["message"]) ?? null) ?? "")'


def _inserted_at(case: dict[str, Any]) -> str:
    (given,) = case["inputs"]
    name: str = given["insert_at"]
    return name


class _Runner:
    """The decode program, the route conditions and the broker-statistics program, compiled
    once; conditions as they come."""

    def __init__(self, decode: str, routes: dict[str, str], stats: str) -> None:
        from sensor_bridge.checks.vrl_runtime import Condition, Remap

        self._remap = Remap
        self._condition = Condition
        self._decode = Remap(decode)
        self._stats = Remap(stats)
        self._routes = {name: Condition(source) for name, source in routes.items()}
        self._conditions: dict[str, Any] = {}

    def _holds(self, source: str, event: dict[str, Any]) -> bool:
        if source not in self._conditions:
            self._conditions[source] = self._condition(source)
        holds: bool = self._conditions[source].holds(event)
        return holds

    def _message(self, source: str) -> dict[str, Any]:
        message: dict[str, Any] = self._remap(f"{source}\n{_MESSAGE_OUT}").run({})
        message["message"] = base64.b64decode(message["message"])
        return message

    def run(self, case: dict[str, Any]) -> list[str]:
        """What is wrong with ``case`` (one of tests.yaml's tests), if anything."""
        (given,) = case["inputs"]
        message = self._message(given["source"])
        if given["insert_at"] == broker_stats.TRANSFORM:
            return self._run_stats(case, message)
        events: list[dict[str, Any]] = self._decode.run(message)
        routed = [
            {name: route.holds(event) for name, route in self._routes.items()} for event in events
        ]
        problems = []
        for output in case.get("outputs", []):
            route = output["extract_from"].removeprefix(f"{ROUTE}.")
            if route not in self._routes:
                continue  # a log_to_metric transform's output: Vector's own code
            mine = [event for event, names in zip(events, routed, strict=True) if names[route]]
            conditions = [c["source"] for c in output["conditions"]]
            if len(mine) != len(conditions):
                problems.append(
                    f"{len(conditions)} events expected from {ROUTE}.{route}, got {mine}"
                )
            problems += [
                f"no event from {ROUTE}.{route} satisfies {source}"
                for source in conditions
                if not any(self._holds(source, event) for event in mine)
            ]
        for silent in case.get("no_outputs_from", []):
            route = silent.removeprefix(f"{ROUTE}.")
            if any(names[route] for names in routed):
                problems.append(f"{silent} must stay empty: {events}")
        return problems

    def _run_stats(self, case: dict[str, Any], message: dict[str, Any]) -> list[str]:
        """A broker-statistics case: at most one event, none when the program aborts."""
        from sensor_bridge.checks.vrl_runtime import VrlAborted

        try:
            events = [self._stats.run(message)]
        except VrlAborted:
            events = []
        problems = []
        for output in case.get("outputs", []):
            if output["extract_from"] != broker_stats.TRANSFORM:
                continue  # the log_to_metric transform's output: Vector's own code
            conditions = [c["source"] for c in output["conditions"]]
            if len(events) != len(conditions):
                problems.append(
                    f"{len(conditions)} events expected from {broker_stats.TRANSFORM}, got {events}"
                )
            problems += [
                f"no event from {broker_stats.TRANSFORM} satisfies {source}"
                for source in conditions
                if not any(self._holds(source, event) for event in events)
            ]
        if broker_stats.TRANSFORM in case.get("no_outputs_from", []) and events:
            problems.append(f"{broker_stats.TRANSFORM} must stay empty: {events}")
        return problems


def _check_with_vector(root: Path, config: RenderedFile, tests: RenderedFile) -> list[CheckResult]:
    vector = shutil.which(NAME)
    if vector is None:
        hint = "no vector binary on PATH (Vector is not packaged in Debian; the Pi's image has it)"
        return [CheckResult(str(f.path), NAME, "-", UNAVAILABLE, hint) for f in (config, tests)]
    env = service_environment(os.environ)
    version = _vector_version(vector, env)
    config_path, tests_path = root / config.path, root / tests.path
    validate = [vector, "validate", "--no-environment", str(config_path)]
    test = [vector, "test", str(config_path), str(tests_path)]
    workdir = config_path.parent
    return [
        _run(
            config.path,
            tool="vector validate",
            version=version,
            argv=validate,
            env=env,
            workdir=workdir,
        ),
        _run(tests.path, tool="vector test", version=version, argv=test, env=env, workdir=workdir),
    ]


def service_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The checker's environment without what the service does not have: ``VECTOR_*``, which
    Vector reads as command-line options (``VECTOR_DANGEROUSLY_ALLOW_ENV_VAR_INTERPOLATION``
    among them, src/cli.rs). Nothing else in the environment reaches a config any more."""
    return {key: value for key, value in environ.items() if not key.startswith("VECTOR_")}


def _vector_version(vector: str, env: dict[str, str]) -> str:
    run = subprocess.run(
        [vector, "--version"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
    )
    words = run.stdout.split()
    return words[1] if len(words) > 1 else "?"


def _run(
    path: PurePosixPath,
    *,
    tool: str,
    version: str,
    argv: list[str],
    env: dict[str, str],
    workdir: Path,
) -> CheckResult:
    run = subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
        timeout=TIMEOUT_S,
    )
    if run.returncode == 0:
        return CheckResult(str(path), tool, version, OK)
    output = (run.stdout + run.stderr).strip().splitlines()
    return CheckResult(str(path), tool, version, FAILED, "\n".join(output[-30:]))


def _check_tmpfiles(conf: RenderedFile) -> CheckResult:
    """Run the cleanup on a scratch root holding an expired and a fresh dead-letter file."""
    tool = shutil.which("systemd-tmpfiles") or shutil.which(
        "systemd-tmpfiles", path="/usr/bin:/bin"
    )
    if tool is None:
        return CheckResult(str(conf.path), "systemd-tmpfiles", "-", NOT_CHECKED, "not installed")
    version = _tmpfiles_version(tool)
    (line,) = (line for line in conf.text.splitlines() if line.startswith("d "))
    directory = PurePosixPath(line.split()[1])
    with tempfile.TemporaryDirectory(prefix="sensor-bridge-tmpfiles-") as scratch:
        root = Path(scratch)
        (root / "conf.d").mkdir()
        conf_file = root / "conf.d" / "dead-letters.conf"
        conf_file.write_text(conf.text)
        target = root / directory.relative_to("/")
        target.mkdir(parents=True)
        expired, fresh = target / "expired.jsonl", target / "fresh.jsonl"
        for path in (expired, fresh):
            path.write_text("{}\n")
        old = time.time() - (DEAD_LETTER_KEEP_DAYS + 1) * _DAY_S
        os.utime(expired, (old, old))
        run = subprocess.run(
            [tool, "--clean", f"--root={root}", str(conf_file)],
            check=False,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        if run.returncode != 0 or expired.exists() or not fresh.exists():
            detail = (
                f"exit {run.returncode}; expired file kept: {expired.exists()}; "
                f"fresh file kept: {fresh.exists()}; {run.stderr.strip()}"
            )
            return CheckResult(str(conf.path), "systemd-tmpfiles", version, FAILED, detail)
    return CheckResult(str(conf.path), "systemd-tmpfiles", version, OK, "expired file removed")


def _tmpfiles_version(tool: str) -> str:
    run = subprocess.run(
        [tool, "--version"], check=False, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    words = run.stdout.split()
    return words[2].strip("()") if len(words) > 2 else "?"
