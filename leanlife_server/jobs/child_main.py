"""The child process side of :mod:`leanlife_server.jobs.child`: build the app from the
parent's settings, run one job, send its Socket.IO events to the parent as JSON lines on
stdout, and end when the parent dies."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

from leanlife_server.app import create_app
from leanlife_server.jobs.child import NOT_STARTED
from leanlife_server.jobs.execution import execute
from leanlife_server.realtime import EMITTER_KEY

# How often a child checks that its parent still lives.
PARENT_POLL_SECONDS = 0.5
# A child runs a big job (an import) for minutes, busy on a core; below the server's
# priority, the request threads of its parent get the CPU first when cores are few.
CHILD_NICENESS = 10


class LineEmitter:
    """The child's emitter: one JSON line per event on the pipe its parent reads."""

    def __init__(self, pipe: TextIO):
        self.pipe = pipe
        self.lock = threading.Lock()  # the job and its heartbeat thread both emit

    def emit(self, event: str, data: Any, room: str) -> None:
        line = json.dumps([event, data, room], default=str)
        with self.lock:
            self.pipe.write(line + "\n")
            self.pipe.flush()


def end_with_parent(parent: int) -> None:
    """Exit as soon as process ``parent`` is no longer this one's parent (it died), even if
    it died before this call: the caller passes the pid it was started by."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)  # nothing to clean up: the job's rows stay hidden until it publishes

    threading.Thread(target=watch, daemon=True, name="leanlife-parent-watch").start()


def lower_priority() -> None:
    """Yield the CPU to the server's requests (``CHILD_NICENESS`` above the current niceness)."""
    if hasattr(os, "nice"):  # POSIX; elsewhere the child keeps its parent's priority
        os.nice(CHILD_NICENESS)


def main(argv: list[str]) -> int:
    parent, job_id, target = int(argv[0]), int(argv[1]), argv[2]
    lower_priority()
    end_with_parent(parent)
    events = sys.stdout
    sys.stdout = sys.stderr  # what anything else prints must not mix with the events
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    app = create_app()
    app.extensions[EMITTER_KEY] = LineEmitter(events)
    with app.app_context():
        return 0 if execute(job_id, target, wait=False) else NOT_STARTED
