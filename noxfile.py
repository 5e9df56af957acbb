"""Repeatable jobs: ``nox`` runs tests, lint and typecheck; ``nox -s benchmarks`` measures."""

from __future__ import annotations

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
    """mypy --strict over src, tests, benchmarks and this file (settings in pyproject.toml)."""
    install(session, "typecheck", "bench")
    session.run("mypy", "--strict", *session.posargs)


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Parse-and-assemble throughput, then the end-to-end transport benchmark over loopback,
    both with their defaults (run either script alone for its options)."""
    if session.posargs:
        session.error("no arguments here: run benchmarks/bench_parse.py or benchmarks/bench_transport.py for options")
    install(session, "bench")
    session.run("python", "benchmarks/bench_parse.py")
    session.run("python", "benchmarks/bench_transport.py")
