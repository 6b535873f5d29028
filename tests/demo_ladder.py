"""Tests that build a ladder of their own over the demo config start from the demo without its
one-rung ladder: its cross-objective arms and steps would clash with theirs."""

from __future__ import annotations

from typing import Any


def without_demo_ladder(arms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The demo's arms less its ladder arms; the paper arms that were its rung leave the study."""
    return [{k: v for k, v in a.items() if k != "also_in"} for a in arms if a.get("study") != "ladder"]
