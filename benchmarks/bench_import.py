"""Import time: what a user of the README imports, against ``import httpx`` and ``import openai``.

    python benchmarks/bench_import.py [--rounds N] [--quick] [--compare SRC] [--json PATH]

Each measurement is a fresh interpreter (``python -c``) that times one import statement with
``time.perf_counter`` and prints it with the number of modules the statement loaded; the rounds
visit the contenders in turn (starting at a different one each round) and the median is
reported, with the middle half of the rounds (p25 to p75) beside it. Ratios are the median of the
ratios taken within each round.

Every interpreter reads compiled bytecode, as after ``pip install`` (which writes it): the
children get a temporary ``PYTHONPYCACHEPREFIX`` without ``PYTHONDONTWRITEBYTECODE``, and an
unmeasured first round fills it, for every contender alike. Without that, in an environment that
sets ``PYTHONDONTWRITEBYTECODE`` an editable install compiles each of its modules from source on
every import while installed packages such as httpx read theirs from ``__pycache__``, and the
ratios measure the compiler. Contenders:

* ``from anyagent_httpx import AgentOptions, query``: the README's first line, what a plain
  ``query()`` needs; and ``from anyagent_httpx import AgentOptions, Client``;
* ``import anyagent_httpx``: the package alone (each public name loads on first use);
* ``import anyagent_httpx.telemetry``: the tracing module, which must not load ``opentelemetry``
  (that happens when an ``OpenTelemetryObserver`` is made);
* ``import anyagent_httpx._mcp``: the MCP servers' module, which must not load ``mcp`` (that
  happens when a client with ``mcp_servers`` opens);
* ``from anyagent_core import AgentLoop, Connection``: the sans-IO core's two machines on their
  own (no target: reported; ``import anyagent_core`` alone loads nothing but the package);
* ``import httpx``, which anyagent_httpx imports: the floor it cannot go under;
* ``import openai``: openai-python, the peer (skipped if not installed).

Each interpreter is told first that ``click``, ``pygments`` and ``rich`` are not installed: httpx's
command line imports them when they are (none is a dependency of anyagent or httpx), so a user
of anyagent alone has ``import httpx`` without them. The README's ``query`` import and ``import
httpx`` run once more as this environment has them, marked ``[with click/pygments/rich]``, with
their ratio reported beside the target's (no target).

``--compare SRC`` also times the README's import from another source tree (for example an
older commit's ``src/``, from ``git archive``), to see what a change costs. The tree goes first
on ``PYTHONPATH``, ahead of the editable install's; a probe that imports ``anyagent_httpx``
from anywhere else (a tree without the package, or a module it lacks found in the installed
one) is reported as not run rather than timed as the other tree.

Targets (PASS/FAIL, the script exits 0): the README's imports (``query`` and ``Client``) take
**at most 1.5x** ``import httpx`` (issue 12); ``import anyagent_httpx`` no longer than ``import
openai``; no ``anyagent_httpx`` contender loads an ``opentelemetry`` or an ``mcp`` module (the
features that need them load them when used); with ``--compare``, **at most 1.05x** the other
tree's import.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import CLI_EXTRAS, HIDE_CLI_EXTRAS, Rounds, rotated, table

TARGET_VS_HTTPX = 1.5
"""The README's imports may take at most this multiple of ``import httpx`` (which they include)."""
TARGET_VS_OPENAI = 1.0
"""``import anyagent_httpx`` may take no longer than ``import openai``."""
TARGET_VS_COMPARED = 1.05
"""With ``--compare``: at most this multiple of the other tree's import (features that grow it
must load what they need when used)."""

README_QUERY = "from anyagent_httpx import AgentOptions, query"
README_CLIENT = "from anyagent_httpx import AgentOptions, Client"

_PROBE = """\
import sys, time
{hide}before = set(sys.modules)
start = time.perf_counter()
{statement}
seconds = time.perf_counter() - start
loaded = set(sys.modules) - before
optional = any(name.split(".")[0] in ("opentelemetry", "mcp") for name in loaded)
ours = [getattr(sys.modules[name], "__file__", None) for name in loaded if name.startswith("anyagent")]
import json
print(json.dumps([seconds, len(loaded), optional, [path for path in ours if path]]))
"""


@dataclass
class Contender:
    statement: str
    path: str | None = None
    """A source tree to put first on sys.path."""
    modules: int = 0
    optional: bool = False
    """It loaded an opentelemetry or mcp module."""
    skipped: str | None = None
    extras: bool = False
    """Let ``import httpx`` load its command line's libraries where installed (by default each
    interpreter is told they are not installed, as for a user of anyagent alone)."""

    @property
    def label(self) -> str:
        label = self.statement if self.path is None else f"{self.statement} ({self.path})"
        return f"{label} [with {'/'.join(CLI_EXTRAS)}]" if self.extras else label

    @property
    def ours(self) -> bool:
        return "anyagent_httpx" in self.statement

    def hide(self) -> str:
        """The probe's first line: the command line's libraries made uninstallable (None in
        ``sys.modules`` makes their import raise ImportError), unless ``extras``."""
        return "" if self.extras else HIDE_CLI_EXTRAS

    def measure(self, pycache: str) -> float | None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
        if self.path is not None:
            env["PYTHONPATH"] = self.path
        done = subprocess.run(
            [sys.executable, "-c", _PROBE.format(statement=self.statement, hide=self.hide())],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            self.skipped = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            return None
        seconds, modules, optional, origins = json.loads(done.stdout.strip().splitlines()[-1])
        if self.path is not None:
            elsewhere = [path for path in origins if not path.startswith(self.path + os.sep)]
            if elsewhere:
                self.skipped = f"imported {elsewhere[0]}, not from {self.path}"
                return None
        self.modules = int(modules)
        self.optional = self.optional or optional
        return float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--compare", metavar="SRC", help="also time the README's import from this source tree")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds

    contenders = [
        Contender(README_QUERY),
        Contender(README_CLIENT),
        Contender("import anyagent_httpx"),
        Contender("import anyagent_httpx.telemetry"),
        Contender("import anyagent_httpx._mcp"),
        Contender("from anyagent_core import AgentLoop, Connection"),
        Contender("import httpx"),
        Contender("import openai"),
        query_with_extras := Contender(README_QUERY, extras=True),
        httpx_with_extras := Contender("import httpx", extras=True),
    ]
    if args.compare:
        contenders.append(Contender(README_QUERY, path=str(Path(args.compare).resolve())))
    by_label = {c.label: c for c in contenders}
    times = Rounds()
    pycache_dir = tempfile.TemporaryDirectory(prefix="bench-import-pycache-")
    pycache = pycache_dir.name
    for contender in contenders:  # unmeasured: compiles every module into the cache
        contender.measure(pycache)
    for number in range(rounds):
        measured: dict[str, float] = {}
        for label in rotated(list(by_label), number):
            contender = by_label[label]
            if contender.skipped is None and (seconds := contender.measure(pycache)) is not None:
                measured[label] = seconds
        if all(c.skipped is not None or c.label in measured for c in contenders):
            for label, seconds in measured.items():
                times.add(label, seconds)

    ran = {c.label: c for c in contenders if c.skipped is None and c.label in times.seconds}
    skipped = {c.label: f"not run: {c.skipped}" for c in contenders if c.skipped is not None}
    pycache_dir.cleanup()
    print(
        f"import time, median of {rounds} fresh interpreters reading bytecode"
        f" (Python {platform.python_version()}, {sys.platform})"
    )

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f}"

    rows = [
        [label, ms(times.median(label)), "-".join(ms(s) for s in times.spread(label)), str(c.modules)]
        for label, c in ran.items()
    ]
    print("\n".join(table(["import", "median ms", "p25-p75 ms", "modules"], rows, skipped)))

    if README_QUERY not in ran:
        print("anyagent_httpx did not import")
        return 1
    passed = True
    print("targets:")
    leaked = [c.label for c in ran.values() if c.ours and c.optional]
    verdict = "FAIL " + ", ".join(leaked) if leaked else "PASS"
    print(f"  no opentelemetry or mcp loaded by importing anyagent_httpx: {verdict}")
    passed = passed and not leaked
    results: dict[str, object] = {
        label: {"median_ms": times.median(label) * 1000, "modules": c.modules} for label, c in ran.items()
    }
    checks: list[tuple[str, str, float | None]] = [
        (README_QUERY, "import httpx", TARGET_VS_HTTPX),
        (README_CLIENT, "import httpx", TARGET_VS_HTTPX),
        ("import anyagent_httpx", "import httpx", None),
        ("import anyagent_httpx", "import openai", TARGET_VS_OPENAI),
        (query_with_extras.label, httpx_with_extras.label, None),
    ]
    if args.compare:
        checks.append((README_QUERY, f"{README_QUERY} ({args.compare})", TARGET_VS_COMPARED))
    for ours, base, target in checks:
        if ours not in ran or base not in ran:
            print(f"  {ours!r} / {base!r}: n/a ({skipped.get(base, skipped.get(ours, 'not run'))})")
            continue
        ratio = times.ratio(ours, base)
        low, high = times.ratio_spread(ours, base)
        results[f"{ours} / {base}"] = ratio
        line = f"  {ours!r} / {base!r}: {ratio:.2f}x (p25-p75 {low:.2f}-{high:.2f})"
        if target is None:
            print(f"{line} (no target)")
            continue
        ok = ratio <= target
        passed = passed and ok
        print(f"{line} (at most {target}x) {'PASS' if ok else 'FAIL'}")
    print(f"overall: {'PASS' if passed else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0  # a report, like the other benchmarks: FAIL is in the output, not the exit status


if __name__ == "__main__":
    raise SystemExit(main())
