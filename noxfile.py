"""Repeatable jobs: ``nox`` runs tests, lint, typecheck and docs; ``nox -s benchmarks`` measures;
``nox -s live`` runs tests/live against real servers (both llama.cpp servers on the tiny test model)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import time
import urllib.error
import urllib.request

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)


def install(session: nox.Session, *groups: str, project: bool = True) -> None:
    """Install the project (editable) and the named dependency groups from pyproject.toml."""
    if project:
        session.install("-e", ".")
    session.install(*nox.project.dependency_groups(PYPROJECT, *groups))


def run_tests(session: nox.Session) -> None:
    install(session, "test")
    # -bb turns bytes/str comparisons into errors: worth having for byte parsers.
    session.run("python", "-bb", "-m", "pytest", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on the current Python (asyncio and trio both run inside it)."""
    run_tests(session)


@nox.session(python=PYTHONS, default=False)
def tests_all(session: nox.Session) -> None:
    """The test suite on every supported Python that is installed."""
    run_tests(session)


@nox.session
def lint(session: nox.Session) -> None:
    install(session, "lint", project=False)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src, tests, benchmarks, examples and this file (settings in pyproject.toml)."""
    install(session, "typecheck", "bench")
    session.run("mypy", "--strict", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs.yml: the guides in docs/ and the API reference that
    mkdocstrings generates from the docstrings), built with warnings as errors."""
    install(session, "docs")
    site = pathlib.Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site), *session.posargs)


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """The benchmarks with their defaults: parse-and-assemble, end to end over loopback, whole
    agent runs with tool calls over loopback, one-shot query() calls with no http_client, request
    building over a 200-turn run, the session store against openai-agents' SQLiteSession,
    compaction and token counting against LangChain's trim_messages and tokenizers, durable runs
    on DBOS against plain runs and the batch command's throughput, then import time.

    For their options run ``benchmarks/bench_parse.py``, ``bench_transport.py``, ``bench_agent.py``,
    ``bench_sessions.py``, ``bench_oneshot.py``, ``bench_requests.py``, ``bench_context.py``,
    ``bench_durable.py`` or
    ``bench_import.py``."""
    if session.posargs:
        session.error("no arguments here: run the scripts in benchmarks/ themselves for options")
    install(session, "bench")
    session.run("python", "benchmarks/bench_parse.py")
    session.run("python", "benchmarks/bench_transport.py")
    session.run("python", "benchmarks/bench_agent.py")
    session.run("python", "benchmarks/bench_sessions.py")
    session.run("python", "benchmarks/bench_oneshot.py")
    session.run("python", "benchmarks/bench_requests.py")
    session.run("python", "benchmarks/bench_context.py")
    session.run("python", "benchmarks/bench_durable.py")
    session.run("python", "benchmarks/bench_import.py")


@nox.session(default=False)
def fuzz(session: nox.Session) -> None:
    """The fuzz targets (tests/fuzz: the Connection, the tool-call emulation parser, the think
    filter, the schema validator) for a bounded time each: ``$FUZZ_SECONDS`` (default 60) or
    ``nox -s fuzz -- --seconds 10``; other options of ``tests/fuzz/run.py`` pass through. Uses
    atheris (the ``fuzz`` group) where it builds, else the mutation engine; prints the number of
    inputs each target ran."""
    session.install("-e", ".")  # the runner needs only the project (and atheris, when it builds)
    try:
        session.install(*nox.project.dependency_groups(PYPROJECT, "fuzz"))
    except nox.command.CommandFailed:
        session.warn("atheris did not install here: the targets run on the mutation engine")
    session.run("python", "-m", "tests.fuzz.run", *session.posargs)


# ---- live tests against a real server -------------------------------------------------------

SHARED = pathlib.Path(__file__).resolve().parent.parent / "shared"
TINY_MODEL = SHARED / "models" / "tiny-agent.gguf"
WHEELS = SHARED / "wheels"
LLAMA_SERVER = SHARED / "bin" / "llama-server"
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_GRACE = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log: pathlib.Path, lines: int = 40) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def _wait_for_server(server: subprocess.Popen[bytes], url: str, log: pathlib.Path) -> None:
    """Poll ``url`` until it answers 200; fail (with the log's tail) if the server exits or the
    time runs out."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{_log_tail(log)}")
        time.sleep(0.2)


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=SERVER_STOP_GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@nox.session(default=False)
def live(session: nox.Session) -> None:
    """The live suite (tests/live) against real servers.

    ``nox -s live`` starts two servers on ../shared/models/tiny-agent.gguf, each once, both
    before the first run: llama-cpp-python (``--server-kind llamacpp``) and llama.cpp's own C++
    server ../shared/bin/llama-server (``--server-kind llama-server``), and runs the suite
    against each; a server whose files are missing is skipped, saying why.
    ``nox -s live -- --base-url URL --model NAME`` runs it against your endpoint instead (LM
    Studio, Ollama, vLLM, ...). Other posargs go to pytest."""
    pytest_args = ["python", "-bb", "-m", "pytest", "tests/live", "-p", "no:cacheprovider"]
    if any(arg == "--base-url" or arg.startswith("--base-url=") for arg in session.posargs):
        install(session, "test")
        session.run(*pytest_args, *session.posargs)
        return
    plans = _live_servers(session)
    if not plans:
        session.skip("no live server can start here: pass --base-url URL --model NAME to test your own endpoint")
    install(session, "test")
    if any(kind == "llamacpp" for kind, *_ in plans):
        session.install("--find-links", str(WHEELS), LLAMA_CPP)
    started: list[tuple[str, str, str, subprocess.Popen[bytes]]] = []
    logs: list[pathlib.Path] = []
    try:
        for kind, command, model, ready in plans:
            port = _free_port()
            command = [part.replace("{port}", str(port)).replace("{python}", os.path.join(session.bin, "python"))
                       for part in command]  # fmt: skip
            log = pathlib.Path(session.create_tmp()) / f"{kind}.log"
            logs.append(log)
            base_url = f"http://127.0.0.1:{port}/v1"
            session.log(f"starting {kind} on {base_url} (log: {log})")
            with log.open("wb") as out:
                server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            started.append((kind, base_url, model, server))
            try:
                _wait_for_server(server, f"http://127.0.0.1:{port}{ready}", log)
            except RuntimeError as exc:
                session.error(f"{kind} did not start: {exc}")
        for kind, base_url, model, _ in started:
            session.run(
                *pytest_args,
                *("--base-url", base_url, "--model", model, "--server-kind", kind),
                *session.posargs,
            )
    finally:
        for *_, server in started:
            _stop(server)


def _live_servers(session: nox.Session) -> list[tuple[str, list[str], str, str]]:
    """The servers ``live`` can start here: (server kind, command, model name, readiness path);
    the ones it cannot are logged with the reason."""
    plans: list[tuple[str, list[str], str, str]] = []
    if not TINY_MODEL.is_file():
        session.log(f"no {TINY_MODEL}: no live server on the tiny model")
        return plans
    if WHEELS.is_dir():
        plans.append((
            "llamacpp",
            ["{python}", "-m", "llama_cpp.server", "--model", str(TINY_MODEL), "--model_alias", "tiny",
             "--host", "127.0.0.1", "--port", "{port}", "--n_ctx", "2048", "--verbose", "False"],
            "tiny",
            "/v1/models",
        ))  # fmt: skip
    else:
        session.log(f"skipping llama-cpp-python: no {WHEELS} (its prebuilt wheel)")
    if os.access(LLAMA_SERVER, os.X_OK):
        plans.append((
            "llama-server",
            [str(LLAMA_SERVER), "-m", str(TINY_MODEL), "--ctx-size", "2048", "--jinja", "--embeddings",
             "--pooling", "mean", "--ubatch-size", "2048", "--host", "127.0.0.1", "--port", "{port}"],
            "tiny",
            "/health",
        ))  # fmt: skip
    else:
        session.log(f"skipping llama.cpp's own server: no executable {LLAMA_SERVER}")
    return plans
