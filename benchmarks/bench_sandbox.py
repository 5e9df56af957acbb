"""What the ``bash`` sandbox's protection of configuration costs each command: the search for
it (``protected_configuration``, the process's CPU time) and bwrap's start-up with its mounts
against bwrap's start-up without them (wall clock, rounds alternating the two).

    python benchmarks/bench_sandbox.py [ROOT ...] [--rounds N]

Without a root it runs on three trees made in a temporary directory: a typical project (a git
directory, ``.github/workflows``, ``.vscode``, ``.envrc``, 500 source files), a wide one (20,000
files: the search's bound) and a deep one (an ``.envrc`` in each of a chain of 300 directories,
each one more mount: the mounts' bound).
On a shared machine the ratio within a run is the figure to trust, not a time.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from anyagent_httpx._tools._builtin._sandbox import protected_configuration, sandbox_problem, sandboxed


def _typical(root: pathlib.Path) -> None:
    for name in ("config", "HEAD"):
        (root / ".git" / "hooks").mkdir(parents=True, exist_ok=True)
        (root / ".git" / name).write_text("x\n")
    for relative in (".github/workflows/ci.yml", ".vscode/settings.json", ".envrc"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("x\n")
    for index in range(500):
        (root / "src" / f"pkg{index % 20}").mkdir(parents=True, exist_ok=True)
        (root / "src" / f"pkg{index % 20}" / f"module{index}.py").write_text("x\n")


def _wide(root: pathlib.Path) -> None:
    for index in range(20_000):
        (root / f"d{index % 100}").mkdir(exist_ok=True)
        (root / f"d{index % 100}" / f"f{index}").write_text("")


def _deep(root: pathlib.Path) -> None:
    deep = root.joinpath(*[f"l{index}" for index in range(300)])
    deep.mkdir(parents=True)
    for parent in (deep, *deep.parents):
        if parent == root:
            break
        (parent / ".envrc").write_text("x\n")


def _measure(root: pathlib.Path, rounds: int) -> None:
    searches = []
    for _ in range(rounds):
        start = time.process_time()
        protected = protected_configuration(root).protected
        searches.append(time.process_time() - start)
    plain = sandboxed(["true"], roots=[root], directory=root, network=False)
    guarded = sandboxed(["true"], roots=[root], directory=root, network=False, protected=protected)
    times: dict[str, list[float]] = {"without": [], "with": []}
    for index in range(2 * rounds):  # A/B/A/B
        label, argv = ("without", plain) if index % 2 == 0 else ("with", guarded)
        start = time.perf_counter()
        subprocess.run(argv, check=True)
        times[label].append(time.perf_counter() - start)
    mounts = (len(guarded) - len(plain)) // 3
    print(f"{root}: {len(protected)} protected paths, {mounts} mounts")
    print(f"  search: median {statistics.median(searches) * 1e3:.1f} ms CPU")
    for label, values in times.items():
        print(f"  bwrap true, {label} them: median {statistics.median(values) * 1e3:.1f} ms (wall)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("roots", nargs="*", type=pathlib.Path)
    parser.add_argument("--rounds", type=int, default=9)
    options = parser.parse_args()
    import anyio

    problem = anyio.run(sandbox_problem)
    if problem is not None:
        sys.exit(f"no sandbox here: {problem}")
    if options.roots:
        for root in options.roots:
            _measure(root.resolve(), options.rounds)
        return
    base = pathlib.Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        for name, make in (("typical", _typical), ("wide", _wide), ("deep", _deep)):
            (base / name).mkdir()
            make(base / name)
            _measure(base / name, options.rounds)
    finally:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
