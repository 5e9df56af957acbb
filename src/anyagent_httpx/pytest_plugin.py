"""pytest plugin (registered by the ``pytest11`` entry point): cassette fixtures for users' tests."""

from __future__ import annotations
