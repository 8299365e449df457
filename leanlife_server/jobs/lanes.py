"""Lanes: jobs are split by kind and size so that short jobs never wait behind long ones.

- ``small``: imports of small files, exports and derivations of small projects: seconds.
- ``model``: training and batch prediction, the live loop.
- ``imports``: imports of big files.
- ``exports``: exports and derivations of big projects.

In-process, each lane has its own thread pool; with Redis, each is an RQ queue
``<prefix>-jobs-<lane>``, and ``leanlife worker`` listens to all of them (in the order of
``LANES``, so a worker that frees up takes a waiting small job first) unless told otherwise.
"""

from __future__ import annotations

from typing import Iterable

SMALL, MODEL, IMPORTS, EXPORTS = "small", "model", "imports", "exports"
LANES = (SMALL, MODEL, IMPORTS, EXPORTS)


def queue_name(prefix: str, lane: str) -> str:
    """The RQ queue of one lane."""
    return f"{prefix}-jobs-{lane}"


def legacy_queue_name(prefix: str) -> str:
    """The single queue of releases before lanes: workers still empty it, so jobs an older
    web process enqueued during an upgrade are not stranded."""
    return f"{prefix}-jobs"


def checked_lanes(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` in priority order, each one a lane; all lanes when empty."""
    wanted = [name.strip() for name in names if name.strip()]
    unknown = sorted(set(wanted) - set(LANES))
    if unknown:
        raise ValueError(f"unknown job lane(s) {', '.join(unknown)}; the lanes are {', '.join(LANES)}")
    return tuple(lane for lane in LANES if lane in wanted) or LANES
