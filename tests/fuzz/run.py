"""Run the fuzz targets for a bounded time: ``python -m tests.fuzz.run [TARGET ...]``.

Each target runs for ``--seconds`` (default: ``$FUZZ_SECONDS``, else 60) after its seed corpus
(``tests/fuzz/corpus/<target>/``). With ``--engine atheris`` (the default when atheris is
installed: the optional dependency group ``fuzz``) each target runs in its own process under
atheris's coverage-guided engine; otherwise a mutation loop over the corpus does (bit flips,
byte and chunk insertions, deletions, splices of two seeds), reproducible with ``--seed``.
Every target prints one line ``fuzz <target>: <N> inputs in <S> s (<engine>)``; a failing input
is written to ``--crashes`` (default ``fuzz-crashes/``) and the run exits 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

from tests.fuzz.targets import TARGETS

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
DEFAULT_SECONDS = 60.0
MAX_INPUT = 4096
_INTERESTING = [
    *(b"{", b"}", b"[", b"]", b'"', b"\\", b"\n", b"\n\n", b"data: ", b"[DONE]", b"1e999", b"NaN"),
    *(b"<think>", b"</think>", b"<tool_call>", b"</tool_call>", b"```", b"$ref", b"#", b"\xff", b"\x00"),
]


def seeds(name: str) -> list[bytes]:
    """The target's seed corpus, sorted by file name (one input per file)."""
    folder = CORPUS / name
    return [path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()] if folder.is_dir() else []


def mutate(data: bytes, pool: list[bytes], rng: random.Random) -> bytes:
    """One to four random edits of ``data`` (the pool gives splices)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        at = rng.randint(0, len(out))
        if choice == 0 and out:
            index = rng.randrange(len(out))
            out[index] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out[at:at] = bytes([rng.randrange(256)])
        elif choice == 2:
            out[at:at] = rng.choice(_INTERESTING)
        elif choice == 3 and out:
            end = min(len(out), at + rng.randint(1, 64))
            del out[at:end]
        elif choice == 4 and out:
            start = rng.randrange(len(out))
            piece = out[start : start + rng.randint(1, 256)]
            out[at:at] = piece * rng.randint(1, 8)
        else:
            other = rng.choice(pool)
            cut = rng.randint(0, len(other))
            out = out[:at] + bytearray(other[cut:])
    return bytes(out[:MAX_INPUT])


def _save(crashes: pathlib.Path, name: str, data: bytes) -> pathlib.Path:
    crashes.mkdir(parents=True, exist_ok=True)
    path = crashes / f"{name}-{abs(hash(data)):x}.bin"
    path.write_bytes(data)
    return path


def run_mutation(name: str, target: Callable[[bytes], None], seconds: float, seed: int, crashes: pathlib.Path) -> int:
    """The corpus, then mutated inputs until ``seconds`` pass; the number of inputs run."""
    rng = random.Random(seed)
    pool = seeds(name) or [b""]
    count = 0
    started = time.monotonic()
    queue = list(pool)
    while True:
        if queue:
            data = queue.pop(0)
        else:
            if time.monotonic() - started >= seconds:
                break
            data = mutate(rng.choice(pool), pool, rng)
        count += 1
        try:
            target(data)
        except Exception:
            path = _save(crashes, name, data)
            traceback.print_exc()
            print(f"fuzz {name}: FAILED on input {count} (saved to {path})", flush=True)
            raise SystemExit(1) from None
        if count % 64 == 0 and len(pool) < 512 and rng.random() < 0.05:
            pool.append(data)  # keep some mutants as further seeds
    return count


def run_atheris(name: str, seconds: float, crashes: pathlib.Path) -> int:
    """The target under atheris in a child process (libFuzzer exits the process when done)."""
    crashes.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as grown:  # libFuzzer adds new inputs to its first directory
        command = [
            *(sys.executable, "-m", "tests.fuzz.atheris_target", name),
            *(f"-max_total_time={max(1, round(seconds))}", f"-artifact_prefix={crashes}/{name}-"),
            *(f"-max_len={MAX_INPUT}", grown, str(CORPUS / name)),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    count = 0
    for line in done.stdout.splitlines():
        if line.startswith("ATHERIS_INPUTS "):
            count = int(line.split()[1])
    if not count:  # libFuzzer's own summary: "Done 12345 runs in 60 second(s)"
        for line in done.stderr.splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "Done" and words[2] == "runs" and words[1].isdigit():
                count = int(words[1])
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        print(f"fuzz {name}: FAILED under atheris after {count} inputs (artifacts in {crashes})", flush=True)
        raise SystemExit(1)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", choices=[[], *TARGETS], help="targets to run (default: all)")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", DEFAULT_SECONDS)))
    has_atheris = importlib.util.find_spec("atheris") is not None
    parser.add_argument("--engine", choices=["atheris", "mutation"], default="atheris" if has_atheris else "mutation")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "0")))
    parser.add_argument("--crashes", type=pathlib.Path, default=pathlib.Path("fuzz-crashes"))
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.engine == "atheris" and not has_atheris:
        parser.error("atheris is not installed (pip install --group fuzz); use --engine mutation")
    if not has_atheris:
        print("atheris is not installed: running the mutation engine (install the 'fuzz' group for atheris)")
    total = 0
    for name in args.targets or list(TARGETS):
        started = time.monotonic()
        if args.engine == "atheris":
            count = run_atheris(name, args.seconds, args.crashes)
        else:
            count = run_mutation(name, TARGETS[name], args.seconds, args.seed, args.crashes)
        total += count
        print(f"fuzz {name}: {count} inputs in {time.monotonic() - started:.0f} s ({args.engine})", flush=True)
    print(f"fuzz: {total} inputs in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
