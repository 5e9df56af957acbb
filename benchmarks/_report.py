"""Plain-text report pieces shared by the end-to-end benchmarks: a table and the target lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["table", "target_lines"]


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
