"""Plain-text report pieces shared by the end-to-end benchmarks: a table, the target lines, and
the statistics of timed rounds (medians and spreads, for a machine that other work shares)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["Rounds", "rotated", "table", "target_lines"]


CLI_EXTRAS = ("click", "pygments", "rich")
"""What ``import httpx`` also loads where they are installed: its command line (``httpx._main``)
imports them, and httpx falls back to a stub when one is missing. None of them is a dependency
of anyagent or of httpx, so a user who installed anyagent has none of them; an environment with
other tools often has them (this project's development one has all three, and there ``import
httpx`` counts 1.7 times the instructions it does without them), which makes every ratio to it
smaller."""

HIDE_CLI_EXTRAS = f"import sys; sys.modules.update(dict.fromkeys({CLI_EXTRAS!r}))\n"
"""A child interpreter's first line for import timings: ``CLI_EXTRAS`` made uninstallable (None
in ``sys.modules`` makes their import raise ImportError), as for a user of anyagent alone."""


def rotated(items: Sequence[str], round_number: int) -> list[str]:
    """``items`` starting at a different one each round, so no contender always runs first (or
    right after another's garbage)."""
    shift = round_number % len(items) if items else 0
    return [*items[shift:], *items[:shift]]


class Rounds:
    """Per-round times of each contender. On a shared machine a burst of other work slows one
    round, not a contender: the figure is the median round, ratios are the median of the ratios
    taken within each round (both contenders measured minutes apart would compare two machines),
    and the spread (the middle half of the rounds, p25 to p75) says how far to trust them."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def spread(self, name: str) -> tuple[float, float]:
        """The 25th and 75th percentiles of the rounds (both the one round when there is one)."""
        times = self.seconds[name]
        if len(times) < 2:
            return times[0], times[0]
        quartiles = statistics.quantiles(times, n=4, method="inclusive")
        return quartiles[0], quartiles[2]

    def ratios(self, name: str, base: str) -> list[float]:
        """``name``'s time over ``base``'s, round by round."""
        return [a / b for a, b in zip(self.seconds[name], self.seconds[base], strict=True)]

    def ratio(self, name: str, base: str) -> float:
        """The median of the per-round ratios of ``name``'s time to ``base``'s."""
        return statistics.median(self.ratios(name, base))

    def ratio_spread(self, name: str, base: str) -> tuple[float, float]:
        ratios = self.ratios(name, base)
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        quartiles = statistics.quantiles(ratios, n=4, method="inclusive")
        return quartiles[0], quartiles[2]

    def to_json(self) -> dict[str, list[float]]:
        return dict(self.seconds)


def table(head: Sequence[str], rows: Sequence[Sequence[str]], skipped: Mapping[str, str]) -> list[str]:
    """``head`` and ``rows`` as aligned columns (the first left-aligned, the others right), then
    one line per skipped contender: its label and why."""
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(len(head))]
    widths[0] = max([widths[0], *(len(label) for label in skipped)])

    def line(row: Sequence[str]) -> str:
        return "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])

    lines = [line(head), "  ".join("-" * width for width in widths)]
    lines.extend(line(row) for row in rows)
    lines.extend(f"{label.ljust(widths[0])}  {why}" for label, why in skipped.items())
    return lines


def target_lines(targets: Iterable[tuple[str, float | None, bool | None]], backend: str) -> list[str]:
    """``targets:``, a line per ``(target, ratio, passed)`` (n/a where openai-python did not run),
    and the overall verdict."""
    lines = ["targets:"]
    overall = True
    for what, ratio, passed in targets:
        if ratio is None or passed is None:
            lines.append(f"  {what}: n/a (openai-python not run under {backend})")
            continue
        overall = overall and passed
        lines.append(f"  {what}: {ratio:.2f}x {'PASS' if passed else 'FAIL'}")
    lines.append(f"overall: {'PASS' if overall else 'FAIL'}")
    return lines
