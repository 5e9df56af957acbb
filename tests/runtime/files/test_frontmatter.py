"""Front matter without YAML: the subset skills and agent files use, read exactly, and the
rest refused with the file and line named."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx._frontmatter import FrontMatterError, split_front_matter


def test_the_forms_skills_and_agent_files_use() -> None:
    text = """---
name: pdf-tools   # a comment
description: >
  Work with PDF files:
  extract text.

  Fill forms.
summary: runs on
  over lines
tools: [read_file, "grep", 'list dir']
more:
  - a
  - 'b c'
metadata:
  version: 1.0
  author: me
flag: true
off: no
n: 3
none: ~
quoted: "a\\nb \\u00e9"
single: 'it''s'
literal: |-
  line 1
    line 2
---
# Body

text
"""
    front, body = split_front_matter(text, "SKILL.md")
    assert front == {
        "name": "pdf-tools",
        "description": "Work with PDF files: extract text.\nFill forms.\n",
        "summary": "runs on over lines",
        "tools": ["read_file", "grep", "list dir"],
        "more": ["a", "b c"],
        "metadata": {"version": "1.0", "author": "me"},
        "flag": True,
        "off": False,
        "n": 3,
        "none": None,
        "quoted": "a\nb é",
        "single": "it's",
        "literal": "line 1\n  line 2",
    }
    assert body == "# Body\n\ntext\n"
    assert split_front_matter("---\nname: x\n---\n\nbody")[1] == "\nbody"


def test_text_without_front_matter_is_all_body() -> None:
    assert split_front_matter("# Title\n---\n") == ({}, "# Title\n---\n")
    assert split_front_matter("") == ({}, "")
    assert split_front_matter("\ufeff---\nname: x\n---\nbody") == ({"name": "x"}, "body")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\nname: a\n", 1, "never closed"),
        ("---\nname: [a\n---\n", 2, "must close with ']'"),
        ("---\nname: a\n  bad: 1\n---\n", 3, "indentation"),
        ("---\njust words\n---\n", 2, "expected 'key: value'"),
        ("---\nname: a\nname: b\n---\n", 3, "given twice"),
        ("---\nname: &anchor a\n---\n", 2, "not supported"),
        ('---\nname: "open\n---\n', 2, "double quote"),
        ('---\nname: "bad \\q"\n---\n', 2, "unknown escape"),
        ("---\nmeta:\n  deep:\n    deeper: 1\n---\n", 4, "one level of nesting"),
        ("---\nlist:\n\t- a\n---\n", 3, "tabs"),
    ],
)
def test_what_is_not_read_is_refused_naming_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(FrontMatterError, match=message) as caught:
        split_front_matter(text, "agents/x.md")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"agents/x.md, line {line}: ")


_keys = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_values = st.text(st.characters(codec="utf-8"), max_size=40)


@given(st.dictionaries(_keys, _values, max_size=6), st.text(max_size=60))
def test_double_quoted_strings_read_back_exactly(values: dict[str, str], body: str) -> None:
    lines = ["---", *(f"{key}: {json.dumps(value)}" for key, value in values.items()), "---"]
    front, rest = split_front_matter("\n".join(lines) + "\n" + body)
    assert front == values
    assert rest == body
