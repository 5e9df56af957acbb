"""Import time: ``import anyagent_httpx`` against ``import httpx`` and ``import openai``.

    python benchmarks/bench_import.py [--rounds N] [--quick] [--compare SRC] [--json PATH]

Each measurement is a fresh interpreter (``python -c``) that times one ``import`` statement with
``time.perf_counter`` and prints it with the number of modules the import loaded; the rounds
visit the contenders in turn and the median is reported (the minimum beside it). Contenders:

* ``anyagent_httpx``: the package as users import it;
* ``anyagent_httpx.telemetry``: the tracing module, which must not load ``opentelemetry``
  (that happens when an ``OpenTelemetryObserver`` is made);
* ``anyagent_httpx._mcp``: the MCP servers' module, which must not load ``mcp`` (that happens
  when a client with ``mcp_servers`` opens);
* ``httpx``, which anyagent_httpx imports: the floor it cannot go under;
* ``openai``: openai-python, the peer (skipped if not installed).

``--compare SRC`` also times ``import anyagent_httpx`` from another source tree (for example
an older commit's ``src/``, from ``git archive``), to see what a change costs.

The features that need other libraries (OpenTelemetry, MCP) load them only when used: the run
fails if importing any of the ``anyagent_httpx`` contenders loads an ``opentelemetry`` or an
``mcp`` module.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import table

TARGET_VS_OPENAI = 1.0
"""``import anyagent_httpx`` may take no longer than ``import openai``. Against ``import httpx``
(which it includes: the floor) the ratio is reported, with no target."""
TARGET_VS_COMPARED = 1.05
"""With ``--compare``: at most this multiple of the other tree's import (features that grow it
must load what they need when used)."""

_PROBE = """\
import sys, time
before = set(sys.modules)
start = time.perf_counter()
import {module}
seconds = time.perf_counter() - start
loaded = set(sys.modules) - before
print(seconds, len(loaded), int(any(name.split(".")[0] in ("opentelemetry", "mcp") for name in loaded)))
"""


@dataclass
class Contender:
    label: str
    module: str
    path: str | None = None
    """A source tree to put first on sys.path."""
    seconds: list[float] = field(default_factory=list)
    modules: int = 0
    optional: bool = False
    """It loaded an opentelemetry or mcp module."""
    skipped: str | None = None

    def measure(self) -> None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if self.path is not None:
            env["PYTHONPATH"] = self.path
        done = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=self.module)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            self.skipped = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            return
        seconds, modules, optional = done.stdout.split()
        self.seconds.append(float(seconds))
        self.modules = int(modules)
        self.optional = self.optional or optional == "1"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    parser.add_argument("--compare", metavar="SRC", help="also time anyagent_httpx from this source tree")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds

    contenders = [
        Contender("anyagent_httpx", "anyagent_httpx"),
        Contender("anyagent_httpx.telemetry", "anyagent_httpx.telemetry"),
        Contender("anyagent_httpx._mcp", "anyagent_httpx._mcp"),
        Contender("httpx", "httpx"),
        Contender("openai", "openai"),
    ]
    if args.compare:
        contenders.append(Contender(f"anyagent_httpx ({args.compare})", "anyagent_httpx", path=args.compare))
    for _ in range(rounds):
        for contender in contenders:
            if contender.skipped is None:
                contender.measure()

    ran = {c.label: c for c in contenders if c.skipped is None and c.seconds}
    skipped = {c.label: f"not run: {c.skipped}" for c in contenders if c.skipped is not None}
    print(f"import time, median of {rounds} fresh interpreters (Python {platform.python_version()}, {sys.platform})")
    rows = [[c.label, f"{c.median_ms:.1f}", f"{min(c.seconds) * 1000:.1f}", str(c.modules)] for c in ran.values()]
    print("\n".join(table(["import", "median ms", "min ms", "modules"], rows, skipped)))

    ours = ran.get("anyagent_httpx")
    if ours is None:
        print("anyagent_httpx did not import")
        return 1
    passed = True
    print("targets:")
    leaked = [c.label for c in ran.values() if c.module.startswith("anyagent_httpx") and c.optional]
    verdict = "FAIL " + ", ".join(leaked) if leaked else "PASS"
    print(f"  no opentelemetry or mcp loaded by importing anyagent_httpx: {verdict}")
    passed = passed and not leaked
    results: dict[str, object] = {label: {"median_ms": c.median_ms, "modules": c.modules} for label, c in ran.items()}
    for peer, target in (("httpx", None), ("openai", TARGET_VS_OPENAI)):
        if peer not in ran:
            print(f"  vs {peer}: n/a ({skipped.get(peer, 'not run')})")
            continue
        ratio = ours.median_ms / ran[peer].median_ms
        results[f"ratio_vs_{peer}"] = ratio
        if target is None:
            print(f"  import anyagent_httpx / import {peer}: {ratio:.2f}x (it includes {peer}: no target)")
            continue
        ok = ratio <= target
        passed = passed and ok
        print(f"  import anyagent_httpx / import {peer}: {ratio:.2f}x (at most {target}x) {'PASS' if ok else 'FAIL'}")
    compared = ran.get(f"anyagent_httpx ({args.compare})") if args.compare else None
    if compared is not None:
        ratio = ours.median_ms / compared.median_ms
        ok = ratio <= TARGET_VS_COMPARED
        passed = passed and ok
        results["ratio_vs_compared"] = ratio
        verdict = "PASS" if ok else "FAIL"
        print(f"  against {args.compare}: {ratio:.2f}x (at most {TARGET_VS_COMPARED}x) {verdict}")
    print(f"overall: {'PASS' if passed else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
