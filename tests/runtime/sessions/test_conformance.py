"""Every store passes the conformance suite shipped in anyagent_httpx.testing, check by check,
under asyncio and trio."""

from __future__ import annotations

import pytest

from anyagent_httpx._sessions import SessionStore
from anyagent_httpx.testing import SESSION_STORE_CHECKS, check_session_store

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("name", list(SESSION_STORE_CHECKS))
async def test_the_store_passes(store: SessionStore, name: str) -> None:
    await SESSION_STORE_CHECKS[name](store)


async def test_the_whole_suite_runs_in_one_go(store: SessionStore) -> None:
    await check_session_store(store, cleanup=True)


async def test_the_suite_fails_a_store_that_breaks_a_rule() -> None:
    """A store that ignores the expected head (last writer wins) is caught."""
    from anyagent_httpx._sessions import MemoryStore

    class Careless(MemoryStore):
        async def append(self, session_id, entries, *, expected_head, tool_executions=()):  # type: ignore[no-untyped-def]
            head = (await self.get(session_id)).head
            entries = list(entries)
            if entries and entries[0].parent_id != head:
                import attrs

                entries[0] = attrs.evolve(entries[0], parent_id=head)
            return await super().append(session_id, entries, expected_head=head, tool_executions=tool_executions)

    with pytest.raises(AssertionError, match="optimistic_append"):
        async with Careless() as store:
            await check_session_store(store)
