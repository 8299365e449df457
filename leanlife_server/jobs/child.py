"""Embedded jobs of some lanes (big imports, by default) in a child process of the web process.

An import is busy Python from start to end. In a thread of the web process it holds the
interpreter lock, and every request thread that gives the lock up (each database call, each
socket read) waits up to the 5 ms switch interval to get it back: saves' p99 went from 23 ms
to 700 ms and more while an import ran. A child process has its own interpreter lock.

The child (:mod:`leanlife_server.jobs.child_main`) builds its app from the parent's resolved
settings (passed as ``LEANLIFE_*`` variables), runs the job with
:func:`leanlife_server.jobs.execution.execute`, and sends the job's
Socket.IO events to the parent as JSON lines on its stdout; the parent emits them to its
browsers. The child ends itself when its parent dies, so that a killed server leaves no
import running (the next start fails the job, as for a thread).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import fields
from typing import TextIO

from flask import Flask

from leanlife_server import realtime
from leanlife_server.config import PREFIX, Settings
from leanlife_server.jobs.states import fail_interrupted_jobs

log = logging.getLogger(__name__)

# Exit status of a child whose job did not start: another job of its project and kind runs.
NOT_STARTED = 3
# The child's side is a module of its own (it builds the app, which this side must not import).
# Not `-m leanlife_server.jobs.child_main`: the package is imported first, and runpy warns.
CHILD_ENTRY = "import sys; from leanlife_server.jobs.child_main import main; sys.exit(main(sys.argv[1:]))"


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a child: the parent's, with its resolved settings as variables
    (the overrides a test or the CLI gave, the database URL and secret key it settled on)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(PREFIX)}
    for setting in fields(Settings):
        if setting.name != "extra":
            environment[PREFIX + setting.name.upper()] = str(getattr(settings, setting.name))
    return environment


def can_run_in_child(app: Flask) -> bool:
    """Whether a child can rebuild this app: not with plugin objects or settings that only
    live in this process (tests pass those)."""
    return not app.extensions.get("leanlife_extra_plugins") and not app.config["LEANLIFE"].extra


class ChildJobs:
    """Runs jobs in child processes and relays their events; ``stop`` kills them."""

    def __init__(self, app: Flask):
        self.app = app
        self.processes: dict[int, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = False

    def run(self, job_id: int, target: str) -> bool:
        """Run the job in a child, in this thread; False when it did not start (its turn
        has not come). A child that dies fails its job, saying how."""
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD_ENTRY, str(os.getpid()), str(job_id), target],
            env=child_environment(self.app.config["LEANLIFE"]), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, text=True, encoding="utf-8")
        with self.lock:
            self.processes[job_id] = process
        try:
            self._relay_events(process.stdout)
            code = process.wait()
        finally:
            with self.lock:
                self.processes.pop(job_id, None)
        if code == NOT_STARTED:
            return False
        if code != 0 and not self.stopping:  # when stopping, the runner says why
            with self.app.app_context():
                fail_interrupted_jobs([job_id], f"its process (a child of the server) ended with status {code}")
        return True

    def stop(self) -> None:
        """Kill every child (the server is stopping; their jobs are failed by the caller)."""
        with self.lock:
            self.stopping = True
            processes = list(self.processes.values())
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()

    def _relay_events(self, lines: TextIO) -> None:
        for line in lines:
            try:
                event, data, room = json.loads(line)
            except ValueError:  # not an event: something the job printed
                log.info("job child: %s", line.rstrip())
                continue
            with self.app.app_context():
                realtime.emit(event, data, room)
