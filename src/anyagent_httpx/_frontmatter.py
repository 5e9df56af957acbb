"""Front matter: the ``---`` block at the top of a Markdown file (``SKILL.md``, an agent file),
read without a YAML library.

What skills and agent files use is a small part of YAML, and that part is what is read here:
``key: value`` lines with plain (perhaps running on over indented lines), single- or
double-quoted values; ``key: [a, b]`` and indented
``- item`` lists; ``|`` and ``>`` block values (with ``-``/``+`` chomping); ``true``/``false``,
integers and ``null``; ``#`` comments. One level of nesting (``metadata:`` with indented
``key: value`` lines) is kept as a dict of strings. Anything else (anchors, flow mappings,
deeper nesting, tabs for indentation) is refused with ``FrontMatterError`` naming the file and
the line, rather than read wrong.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FrontMatterError", "split_front_matter"]

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)\s*:(?:\s+(.*))?$")
_INT = re.compile(r"^[-+]?\d+$")


class FrontMatterError(ValueError):
    """The front matter is not in the form read here; the message names the file and line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}, line {line}: {message}")
        self.source = source
        self.line = line


def split_front_matter(text: str, source: str = "<text>") -> tuple[dict[str, Any], str]:
    """The front matter of ``text`` as a dict and the body after its closing line, exactly as
    it is. Text that does not open with a ``---`` line has no front matter: ``({}, text)``."""
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = text.splitlines(keepends=True)
    if not rows or rows[0].rstrip() != "---":
        return {}, text
    for end in range(1, len(rows)):
        if rows[end].rstrip() in ("---", "..."):
            break
    else:
        raise FrontMatterError(source, 1, "the front matter opened with '---' is never closed by another '---'")
    lines = [row.rstrip("\r\n") for row in rows[1:end]]
    body = "".join(rows[end + 1 :])
    return _Reader(lines, source).mapping(), body


def _scalar(raw: str, source: str, number: int) -> Any:
    value = raw.strip()
    if not value:
        return None
    if value[0] == '"':
        if len(value) < 2 or not value.endswith('"'):
            raise FrontMatterError(source, number, "a double-quoted value must end with a double quote on its line")
        return _unescape(value[1:-1], source, number)
    if value[0] == "'":
        if len(value) < 2 or not value.endswith("'"):
            raise FrontMatterError(source, number, "a single-quoted value must end with a single quote on its line")
        return value[1:-1].replace("''", "'")
    if value[0] in "&*!{%@`":
        raise FrontMatterError(source, number, f"YAML feature not supported here: a value starting with {value[0]!r}")
    value = re.sub(r"\s+#.*$", "", value)  # a trailing comment
    lowered = value.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("null", "~"):
        return None
    if _INT.match(value):
        return int(value)
    return value


_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "f": "\f", '"': '"', "\\": "\\", "/": "/", "r": "\r", "0": "\0"}


def _unescape(value: str, source: str, number: int) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escape = value[index + 1 : index + 2]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            index += 2
        elif escape == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", value[index + 2 : index + 6]):
            code = int(value[index + 2 : index + 6], 16)
            index += 6
            low = value[index + 2 : index + 6] if value[index : index + 2] == "\\u" else ""
            if 0xD800 <= code < 0xDC00 and re.fullmatch(r"[dD][c-fC-F][0-9A-Fa-f]{2}", low):
                code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)  # a surrogate pair
                index += 6
            if 0xD800 <= code < 0xE000:
                raise FrontMatterError(source, number, "a lone surrogate escape in a double-quoted value")
            out.append(chr(code))
        else:
            raise FrontMatterError(source, number, f"unknown escape '\\{escape}' in a double-quoted value")
    return "".join(out)


def _inline_list(raw: str, source: str, number: int) -> list[Any]:
    inner = raw.strip()[1:-1].strip()
    if not inner:
        return []
    items: list[Any] = []
    for part in re.findall(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^,]+)\s*(?:,|$)""", inner):
        items.append(_scalar(part, source, number))
    return items


class _Reader:
    def __init__(self, lines: list[str], source: str) -> None:
        self.lines = lines
        self.source = source
        self.index = 0

    def error(self, message: str, index: int | None = None) -> FrontMatterError:
        return FrontMatterError(self.source, (self.index if index is None else index) + 2, message)

    def mapping(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while self.index < len(self.lines):
            line = self.lines[self.index]
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                self.index += 1
                continue
            if line[0].isspace():
                raise self.error("unexpected indentation (only one level of nesting is read)")
            match = _KEY.match(line.rstrip())
            if match is None:
                raise self.error(f"expected 'key: value', found {stripped[:60]!r}")
            key, raw = match.group(1), (match.group(2) or "").strip()
            if key in result:
                raise self.error(f"{key!r} is given twice")
            self.index += 1
            result[key] = self.value(raw)
        return result

    def value(self, raw: str) -> Any:
        index = self.index - 1  # the key's line
        if raw[:1] in ("|", ">") and re.fullmatch(r"[|>][-+]?(\s+#.*)?", raw):
            return self.block(raw[0], raw[1:2] if raw[1:2] in "-+" else "")
        if raw.startswith("[") and raw.rstrip().endswith("]"):
            return _inline_list(raw, self.source, index + 2)
        if raw.startswith("["):
            raise self.error("a '[' list must close with ']' on the same line", index)
        if raw and not raw.startswith("#"):
            following = [(at, line.strip()) for at, line in self._indented() if line.strip()]
            for at, line in following:
                if _KEY.match(line) or line.startswith("- "):
                    raise self.error("unexpected indentation (only one level of nesting is read)", at)
            more = [line for _, line in following]
            if more and raw[0] not in "\"'":  # a plain value running on over indented lines
                return " ".join([raw, *more])
            if more:
                raise self.error("a quoted value must end on its own line", index)
            return _scalar(raw, self.source, index + 2)
        return self.nested()

    def _indented(self) -> list[tuple[int, str]]:
        """The indented lines that follow (blank ones kept), as (index, text)."""
        found: list[tuple[int, str]] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.strip() and not line[0].isspace():
                break
            if line.startswith("\t") or (line.strip() and line[: len(line) - len(line.lstrip())].count("\t")):
                raise self.error("tabs cannot indent front matter: use spaces")
            found.append((self.index, line))
            self.index += 1
        while found and not found[-1][1].strip():
            found.pop()
        return found

    def nested(self) -> Any:
        lines = [(index, line) for index, line in self._indented() if line.strip() and not line.strip().startswith("#")]
        if not lines:
            return None
        indent = len(lines[0][1]) - len(lines[0][1].lstrip(" "))
        for index, line in lines:
            if len(line) - len(line.lstrip(" ")) != indent:
                raise self.error("expected an indented 'key: value' or '- item' (only one level of nesting)", index)
        if all(line.strip().startswith("- ") or line.strip() == "-" for _, line in lines):
            return [_scalar(line.strip()[1:], self.source, index + 2) for index, line in lines]
        nested: dict[str, str] = {}
        for index, line in lines:
            match = _KEY.match(line.strip())
            if match is None or (match.group(2) or "").startswith(("|", ">", "[")):
                raise self.error(f"expected an indented 'key: value' or '- item', found {line.strip()[:60]!r}", index)
            value = _scalar(match.group(2) or "", self.source, index + 2)
            nested[match.group(1)] = "" if value is None else str(value)
        return nested

    def block(self, style: str, chomp: str) -> str:
        lines = self._indented()
        texts = [line for _, line in lines]
        indents = [len(text) - len(text.lstrip(" ")) for text in texts if text.strip()]
        if not indents:
            return ""
        indent = min(indents)
        rows = [text[indent:] if text.strip() else "" for text in texts]
        if style == "|":
            text = "\n".join(rows)
        else:  # folded: lines join with spaces, blank lines stay line breaks
            paragraphs: list[str] = []
            current: list[str] = []
            for row in rows:
                if row:
                    current.append(row)
                else:
                    paragraphs.append(" ".join(current))
                    current = []
            paragraphs.append(" ".join(current))
            text = "\n".join(paragraphs)
        return text if chomp == "-" else text + "\n"
