"""The batch command's pure parts, as properties: the tasks file read back, the concurrency split."""

from __future__ import annotations

import json
import pathlib
import re
import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyagent_httpx.durable._batch import BatchError, BatchTask, _agent_options, _pricing, _shares, read_tasks

ids = st.one_of(st.integers(min_value=-(10**9), max_value=10**9), st.text(min_size=1, max_size=12))
options = st.dictionaries(st.sampled_from(["model", "max_turns", "temperature"]), st.integers(1, 9), max_size=3)


@given(st.lists(st.tuples(ids, st.text(max_size=40), options), max_size=20, unique_by=lambda t: str(t[0])))
def test_a_tasks_file_reads_back_as_written(rows: list[tuple[int | str, str, dict[str, int]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "tasks.jsonl"
        path.write_text("".join(json.dumps({"id": i, "prompt": p, "options": o}) + "\n" for i, p, o in rows))
        assert read_tasks(path) == [BatchTask(id=str(i), prompt=p, options=o) for i, p, o in rows]


@given(st.integers(1, 64), st.integers(1, 64))
def test_on_sqlite_the_concurrency_is_split_among_the_workers(workers: int, concurrency: int) -> None:
    shares = _shares("sqlite:///x.sqlite", workers, concurrency)
    assert sum(s for s in shares if s is not None) == concurrency
    assert len(shares) == min(workers, concurrency)
    assert all(s is not None and s >= 1 for s in shares)
    assert max(s for s in shares if s is not None) - min(s for s in shares if s is not None) <= 1


@given(st.integers(1, 64), st.integers(1, 64))
def test_on_postgresql_every_worker_starts_with_the_global_limit_only(workers: int, concurrency: int) -> None:
    assert _shares("postgresql://h/db", workers, concurrency) == [None] * workers


BAD_LINES = ['{"id": true, "prompt": "a"}', '{"id": 1, "prompt": 2}', "[1]", "{", '{"id": 1, "prompt": "a", "x": 1}']


@pytest.mark.parametrize("line", BAD_LINES)
def test_a_bad_line_is_named(line: str, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"id": 0, "prompt": "fine"}\n' + line + "\n")
    with pytest.raises(BatchError, match=re.escape(f"{path}:2: ")):
        read_tasks(path)


@given(st.floats(0, 1e6), st.floats(0, 1e6))
def test_pricing_reads_back_into_the_agent_s_options(given_in: float, given_out: float) -> None:
    text = json.dumps({"model": "m", "pricing": _pricing(f"{given_in!r}/{given_out!r}")})
    pricing = _agent_options(text).pricing
    assert pricing is not None
    assert (pricing.input_per_million, pricing.output_per_million) == (given_in, given_out)


@pytest.mark.parametrize("text", ["", "0.15", "0.15/", "a/b", "-1/2", "1/inf", "nan/1", "1/2/3"])
def test_bad_pricing_is_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(
        BatchError, match=f"--pricing must be IN/OUT dollars per million tokens.*not {re.escape(repr(text))}"
    ):
        _pricing(text)
