"""One progress-bar helper for long loops (tqdm on stderr, nothing when disabled)."""

from __future__ import annotations

from typing import Iterable


def progress_bar(items: Iterable, desc: str, enabled: bool, unit: str = "it", total: int | None = None) -> Iterable:
    """Return `items` wrapped in a transient tqdm bar when `enabled`, else unchanged."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, leave=False, unit=unit, total=total)
