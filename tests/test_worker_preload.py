"""A worker imports its models' and strategies' modules while it waits for the first job, so
that job does not pay seconds of imports (torch, transformers) on top of its training."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.test_jobs_support import REPO

FRESH_WORKER = """
import json, sys, tempfile
from leanlife_server.app import create_app
from leanlife_server.jobs.worker import preload

work = tempfile.mkdtemp()
app = create_app({"database_url": f"sqlite:///{work}/db.sqlite3", "data_dir": work, "secret_key": "test"})
heavy = ("torch", "transformers", "leanlife_transformer.classify", "leanlife_strategies.classifier")
before = [name for name in heavy if name in sys.modules]
loaded = preload(app)
print(json.dumps({"before": before, "after": [name for name in heavy if name in sys.modules], "loaded": loaded}))
"""


def test_a_worker_preloads_its_models_and_strategies():
    """In a fresh process: registering the plugins imports neither torch nor a model's module;
    the preload imports every model and strategy factory's module."""
    done = subprocess.run([sys.executable, "-c", FRESH_WORKER], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == []
    assert seen["after"] == ["torch", "transformers", "leanlife_transformer.classify", "leanlife_strategies.classifier"]
    assert {"leanlife_transformer.classify", "leanlife_transformer.tag", "leanlife_strategies.classifier"} <= set(seen["loaded"])
