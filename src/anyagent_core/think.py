"""Reasoning written in the answer's text as ``<think>...</think>``, read as reasoning:
``split_think`` (a whole text), ``ThinkTagFilter`` (streamed), ``AnswerFilter`` (streamed, with
tool calls written as text held back), ``think_to_blocks`` (a message)."""

from __future__ import annotations

from ._textual._think import AnswerFilter, ThinkSplit, ThinkTagFilter, split_think, think_to_blocks

__all__ = ["AnswerFilter", "ThinkSplit", "ThinkTagFilter", "split_think", "think_to_blocks"]
