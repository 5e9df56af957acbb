"""One fuzz target under atheris: ``python -m tests.fuzz.atheris_target TARGET [libFuzzer flags]``
(``tests.fuzz.run`` starts it). Prints ``ATHERIS_INPUTS <n>`` when libFuzzer stops."""

from __future__ import annotations

import atexit
import sys

import atheris
import attrs  # noqa: F401 - imported before the hook: only the core is instrumented (start-up time)

with atheris.instrument_imports(include=["anyagent_core"]):  # coverage of the core's own modules
    import anyagent_core
    from tests.fuzz.targets import TARGETS

_count = [0]


def _report() -> None:
    print(f"ATHERIS_INPUTS {_count[0]}", flush=True)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        raise SystemExit(f"usage: python -m tests.fuzz.atheris_target {{{','.join(TARGETS)}}} [libFuzzer flags]")
    target = TARGETS[sys.argv[1]]
    assert anyagent_core.__name__  # instrumented above

    def one_input(data: bytes) -> None:
        _count[0] += 1
        target(data)

    atexit.register(_report)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
