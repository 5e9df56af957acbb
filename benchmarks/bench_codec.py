"""Session decoding, core only: what a cold load of a 10,000-message session costs after the
rows are read, against ``json.loads`` of the same texts.

    python benchmarks/bench_codec.py [--messages N] [--rounds N]

The session is the one ``bench_sessions.py`` loads (the same seeded turns: a user's text and an
answer of one text block with a model and token counts, ~200 characters each), written by
``dumps_entry`` as the stores write it. Timed, each round in an order rotated from round to
round, by the process's CPU time (other work on a shared machine is not counted):

* ``json.loads each``: one ``json.loads`` per entry text, dicts only (what openai-agents'
  ``SQLiteSession.get_items()`` does after its query);
* ``json.loads array``: one ``json.loads`` of the texts joined into one JSON array (the floor
  of any reader that gets the texts: the dicts must be made);
* ``fast_entries``: the typed entries made from those dicts (after the array's ``json.loads``);
* ``loads_entries``: the texts to typed, checked entries (the two above);
* ``rebuild``: the conversation from those entries;
* ``loads_entries + rebuild``: what a cold load costs after the query.

Then, per object kind the reader builds, what making 10,000 of them costs (a builder call each),
and how many objects a message costs. The figure of each is its median round, with the middle
half of the rounds (p25-p75) as its spread.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Rounds, rotated, table
from anyagent_core import Commit
from anyagent_core._sessions import _codec
from anyagent_core.sessions import commit_entries, dumps_entry, loads_entries, rebuild
from bench_sessions import turn


def session_texts(messages: int) -> list[str]:
    """The entry texts of ``bench_sessions``' load session (ids and times fixed, not drawn)."""
    rng = random.Random(2)
    counter = iter(range(10**9))
    head = None
    texts: list[str] = []
    for _ in range(messages // 2):
        commit = turn(rng)
        commit = Commit(messages=commit.messages, turn_number=1)
        entries = commit_entries(commit, parent_id=head, new_id=lambda: f"{next(counter):032x}", at=1.7e9)
        texts += [dumps_entry(entry) for entry in entries]
        head = entries[-1].id
    return texts


def timed(work: Callable[[], Any]) -> float:
    gc.collect()
    begun = time.process_time()
    work()
    return time.process_time() - begun


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main(messages: int, rounds: int) -> int:
    texts = session_texts(messages)
    joined = "[" + ",".join(texts) + "]"
    items = json.loads(joined)
    entries = loads_entries(texts, session_id="big")
    assert len(rebuild("big", entries).messages) == messages
    fast_entries: Callable[[list[Any]], Any] = getattr(
        _codec, "fast_entries", lambda objs: [_codec.fast_entry(o) for o in objs]
    )
    contenders: dict[str, Callable[[], Any]] = {
        "json.loads each": lambda: [json.loads(t) for t in texts],
        "json.loads array": lambda: json.loads(joined),
        "fast_entries": lambda: fast_entries(items),
        "loads_entries": lambda: loads_entries(texts, session_id="big"),
        "rebuild": lambda: rebuild("big", entries),
        "loads_entries + rebuild": lambda: rebuild("big", loads_entries(texts, session_id="big")),
    }
    n = 10_000
    kinds: dict[str, Callable[[], Any]] = {
        "TextBlock": lambda: [_codec._new_text("t") for _ in range(n)],
        "UserMessage": lambda: [_codec._new_user("t") for _ in range(n)],
        "Usage": lambda: [_codec._new_usage(9, None, None, None, None, _codec._EMPTY_RAW, False) for _ in range(n)],
        "AssistantMessage": lambda: [_codec._new_assistant((), "m", None, None, None, None) for _ in range(n)],
        "MessageEntry": lambda: [_codec._new_message_entry("e", None, 1.0, None, 1) for _ in range(n)],
        "(the loop alone)": lambda: [None for _ in range(n)],
    }
    times = Rounds()
    for number in range(rounds):
        for name in rotated([*contenders, *kinds], number):
            times.add(name, timed({**contenders, **kinds}[name]))
    rows = []
    for name in contenders:
        low, high = times.spread(name)
        per = times.median(name) / messages * 1e6
        rows.append([name, ms(times.median(name)), f"{ms(low)}-{ms(high)}", f"{per:.2f}"])
    print(f"Decoding a {messages:,}-message session ({len(joined):,} bytes of JSON), {rounds} rounds, CPU time")
    print("\n".join(table(["", "median ms", "p25-p75 ms", "us per message"], rows, {})))
    print()
    rows = []
    for name in kinds:
        low, high = times.spread(name)
        rows.append([name, ms(times.median(name)), f"{ms(low)}-{ms(high)}"])
    print(f"Making {n:,} objects of each kind (a builder call each)")
    print("\n".join(table(["", "median ms", "p25-p75 ms"], rows, {})))
    before = len(gc.get_objects())
    kept = loads_entries(texts, session_id="big")
    print(f"\ntracked objects a decoded message adds: {(len(gc.get_objects()) - before) / messages:.2f}")
    del kept
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=9)
    arguments = parser.parse_args()
    sys.exit(main(arguments.messages, arguments.rounds))
