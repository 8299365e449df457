"""The artifact store: every file LeanLife keeps beside the database (model versions, batch
prediction results, exports, uploaded imports) lives here under a *key* such as
``models/project-1/version-3.zip``. Rows store keys, never paths, so web processes and
workers on other machines, each with its own data dir, read the same files.

``LEANLIFE_STORAGE_URL`` chooses the backend: empty (the default) is the data dir itself, so
the data dirs of earlier releases keep their files where they are; ``s3://BUCKET/PREFIX``
is S3-compatible object storage through boto3 (endpoint ``LEANLIFE_S3_ENDPOINT_URL``, region
``LEANLIFE_S3_REGION`` or ``AWS_DEFAULT_REGION``, credentials from the usual AWS variables).

Both backends stream (files go up and come down in chunks, never whole in memory) and write
atomically: a key holds a whole file or nothing (a local file is renamed into place; an S3
object appears when its upload completes).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator, Protocol
from urllib.parse import urlparse

from flask import current_app, send_file

STORE_KEY = "leanlife_store"
log = logging.getLogger(__name__)


class MissingArtifact(FileNotFoundError):
    """A key the store does not hold."""


def check_key(key: str) -> str:
    """A key is a relative POSIX path without ``..``: it may never name a file outside the store."""
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or ".." in parts or "\\" in key:
        raise ValueError(f"artifact key {key!r}: must be a relative path without '..'")
    return key


class Store(Protocol):
    """What LeanLife needs of a place for files."""

    def put_file(self, key: str, path: Path) -> None:
        """Store a copy of the local file ``path`` under ``key`` (replacing any)."""

    def open(self, key: str) -> BinaryIO:
        """A stream of the file under ``key``; :class:`MissingArtifact` if there is none."""

    def get_to_file(self, key: str, path: Path) -> None:
        """Copy the file under ``key`` to the local ``path``, atomically."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens when it is absent)."""

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str) -> Iterator[str]:
        """The keys that start with ``prefix``."""

    def check(self) -> None:
        """Raise unless a file can be written and removed (what health reports)."""

    def describe(self) -> str: ...


def _atomic_copy(source: BinaryIO, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class LocalStore:
    """A folder (by default the data dir)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as source:
            _atomic_copy(source, self.path(key))

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise MissingArtifact(f"{self.describe()}: no file {key!r}") from None

    def get_to_file(self, key: str, path: Path) -> None:
        with self.open(key) as source:
            _atomic_copy(source, Path(path))

    def delete(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir():  # a model version written by a release before the store
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def keys(self, prefix: str) -> Iterator[str]:
        folder, _, start = prefix.rpartition("/")
        directory = self.root / folder if folder else self.root
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.is_file() and path.name.startswith(start) and not path.name.endswith(".tmp"):
                    yield f"{folder}/{path.name}" if folder else path.name

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".health-"):
            pass

    def describe(self) -> str:
        return str(self.root)


class S3Store:
    """A bucket (and key prefix) of S3-compatible object storage. The bucket is created on
    first use when it is missing."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.endpoint_url, self.region = endpoint_url or None, region or None
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        """A boto3 client (thread-safe, shared by the process's threads), made and the bucket
        ensured on first use, so an app starts even while the storage is briefly away."""
        with self._lock:
            if self._client is None:
                import boto3  # only installations that use S3 pay for the import
                from botocore.config import Config

                # Bounded waits: an unreachable store fails a request (or health) in seconds,
                # not after botocore's default 60 s connect timeout.
                config = Config(connect_timeout=5, read_timeout=60,
                                retries={"mode": "standard", "max_attempts": 3})
                client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region,
                                      config=config)
                self._ensure_bucket(client)
                self._client = client
            return self._client

    def _ensure_bucket(self, client) -> None:
        from botocore.exceptions import ClientError

        try:
            client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            options = {}
            if self.region and self.region != "us-east-1":  # AWS wants the region named elsewhere
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                client.create_bucket(Bucket=self.bucket, **options)
            except client.exceptions.BucketAlreadyOwnedByYou:  # another process was first
                pass

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    @staticmethod
    def _missing(exc) -> bool:
        return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")

    def put_file(self, key: str, path: Path) -> None:
        # upload_file streams in parts (multipart above 8 MiB); the object appears only whole.
        self.client.upload_file(str(path), self.bucket, self._key(key))

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if self._missing(exc):
                raise MissingArtifact(f"{self.describe()}: no object {key!r}") from None
            raise

    def get_to_file(self, key: str, path: Path) -> None:
        from botocore.exceptions import ClientError

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.client.download_file(self.bucket, self._key(key), str(tmp))
            os.replace(tmp, path)
        except ClientError as exc:
            if self._missing(exc):
                raise MissingArtifact(f"{self.describe()}: no object {key!r}") from None
            raise
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise

    def keys(self, prefix: str) -> Iterator[str]:
        skip = len(self.prefix) + 1 if self.prefix else 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) if prefix else self.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"][skip:]

    def check(self) -> None:
        key = self._key(f".health-{uuid.uuid4().hex}")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=b"")
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def open_store(url: str, data_dir: Path, endpoint_url: str = "", region: str = "") -> Store:
    """The store ``LEANLIFE_STORAGE_URL`` names: empty for the data dir, ``s3://BUCKET/PREFIX``,
    or a folder (a path or ``file:///PATH``)."""
    if not url:
        return LocalStore(data_dir)
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"LEANLIFE_STORAGE_URL={url!r}: name the bucket, as in s3://BUCKET/PREFIX")
        return S3Store(parsed.netloc, parsed.path, endpoint_url,
                       region or os.environ.get("AWS_DEFAULT_REGION"))
    if parsed.scheme in ("", "file"):
        return LocalStore(Path(parsed.path if parsed.scheme else url).resolve())
    raise ValueError(f"LEANLIFE_STORAGE_URL={url!r}: unknown scheme {parsed.scheme!r}; use "
                     f"s3://BUCKET/PREFIX, file:///PATH or leave it empty for the data dir")


def store() -> Store:
    """The app's store (made by ``create_app``)."""
    return current_app.extensions[STORE_KEY]


def discard(key: str) -> None:
    """Delete ``key`` while handling another failure: a store that is down too must not hide
    the error being handled (the object, if any, is then left behind)."""
    try:
        store().delete(key)
    except Exception as exc:  # noqa: BLE001 - any client error; the original one matters
        log.warning("could not delete %s from %s: %s", key, store().describe(), exc)


def scratch_dir() -> Path:
    """A new private folder in this process's data dir for files on their way into or out of
    the store (never shared: a worker's data dir is its own)."""
    base = current_app.config["LEANLIFE"].data_dir / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=base))


def send_stored(key: str, mimetype: str, download_name: str):
    """A download response streamed from the store."""
    return send_file(store().open(key), mimetype=mimetype, as_attachment=True, download_name=download_name)
