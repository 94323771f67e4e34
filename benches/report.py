"""Efficiency and alignment reports (terminal tables and site sections)."""

from __future__ import annotations


def extra_sections(results: str) -> list[dict]:
    """Site sections for the efficiency and alignment records (none yet)."""
    return []
