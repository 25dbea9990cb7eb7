"""Where the engine reads and writes S3 objects: local buckets on disk, or any S3 endpoint through boto3.

A Distributed Map's ItemReader and ResultWriter and the ``aws-sdk:s3`` Tasks all go through one
`ObjectStore`, chosen by `object_store()`:

- ``ORCHESTRATOR_S3=aws``, or ``ORCHESTRATOR_S3_ENDPOINT_URL`` set: `BotoStore`, boto3's S3 client
  (against AWS with the credentials and region boto3 finds, or against the S3-compatible endpoint
  given: MinIO, Ceph, a moto server);
- otherwise (the embedded default): `LocalBuckets`, directories under ``$ORCHESTRATOR_HOME/buckets``
  (``ORCHESTRATOR_S3_ROOT`` to put them elsewhere). Every process on the machine sees the same
  buckets; a cluster of several machines needs a shared S3 endpoint instead.

Errors are `S3Error` with S3's own codes (``NoSuchBucket``, ``NoSuchKey``), whichever store raised them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK = 64 * 1024
LIST_PAGE = 1000  # ListObjectsV2's largest page, as on S3


class S3Error(Exception):
    """An S3 call that failed: ``code`` is S3's error code (``NoSuchKey``, ``NoSuchBucket``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What ListObjectsV2 and HeadObject tell of an object."""

    key: str
    size: int
    etag: str  # quoted, as S3 gives it: '"9b2cf535f27731c974343645a3985328"'
    last_modified: dt.datetime
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of ListObjectsV2: the objects, and the token of the next page (None: the last)."""

    objects: tuple[ObjectInfo, ...]
    next_token: str | None


class ObjectStore(Protocol):
    """The four S3 calls the engine makes."""

    def get_object(self, bucket: str, key: str, start: int = 0) -> BinaryIO:
        """The object's bytes from byte ``start`` on, as a stream (read it in chunks; close it after)."""

    def put_object(self, bucket: str, key: str, body: bytes) -> ObjectInfo:
        """Store ``body`` under ``key``; returns what HeadObject would."""

    def put_stream(self, bucket: str, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Store the bytes of ``chunks`` under ``key`` as they come (never all of them in memory)."""

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        """The object's size, ETag and date, without its bytes."""

    def list_objects(
        self, bucket: str, prefix: str = "", token: str | None = None, max_keys: int = LIST_PAGE
    ) -> ListPage:
        """A page of the keys under ``prefix``, in key order, after ``token``."""


def iter_objects(store: ObjectStore, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
    """Every object under ``prefix``, one ListObjectsV2 page at a time."""
    token = None
    while True:
        page = store.list_objects(bucket, prefix, token)
        yield from page.objects
        if page.next_token is None:
            return
        token = page.next_token


# -- local buckets ---------------------------------------------------------------------------------


class LocalBuckets:
    """Buckets as directories: ``<root>/<bucket>/<quoted key>``, with a ``.meta/`` JSON file per object.

    Keys are percent-quoted into one file name each, so ``a/b`` cannot climb out of its bucket and
    listing is one directory read. A put writes a temporary file and renames it: a reader sees the
    old object or the new one, never half of one.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def create_bucket(self, bucket: str) -> None:
        _check_bucket_name(bucket)
        (self.root / bucket / ".meta").mkdir(parents=True, exist_ok=True)

    def buckets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / ".meta").is_dir())

    def get_object(self, bucket: str, key: str, start: int = 0) -> BinaryIO:
        path = self._object_path(bucket, key)
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            raise S3Error("NoSuchKey", "The specified key does not exist.") from None
        stream.seek(start)
        return stream

    def put_object(self, bucket: str, key: str, body: bytes) -> ObjectInfo:
        return self.put_stream(bucket, key, [body])

    def put_stream(self, bucket: str, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        path = self._object_path(bucket, key)
        digest = hashlib.md5()  # S3 ETags are MD5
        size = _write_atomically(path, chunks, digest.update)
        info = ObjectInfo(key, size, f'"{digest.hexdigest()}"', dt.datetime.now(dt.UTC))
        meta = {"ETag": info.etag, "LastModified": info.last_modified.isoformat()}
        _write_atomically(self._meta_path(bucket, key), [json.dumps(meta).encode()])
        return info

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        path = self._object_path(bucket, key)
        if not path.is_file():
            raise S3Error("NoSuchKey", "The specified key does not exist.")
        return self._info(bucket, key, path)

    def list_objects(
        self, bucket: str, prefix: str = "", token: str | None = None, max_keys: int = LIST_PAGE
    ) -> ListPage:
        directory = self._bucket_path(bucket)
        after = _decode_token(token) if token else ""
        keys = sorted(
            key
            for key in (urllib.parse.unquote(p.name) for p in directory.iterdir() if p.name != ".meta" and p.is_file())
            if key.startswith(prefix) and key > after
        )
        page = keys[:max_keys]
        objects = tuple(self._info(bucket, key, directory / _file_name(key)) for key in page)
        more = len(keys) > max_keys
        return ListPage(objects, _encode_token(page[-1]) if more else None)

    def _info(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        try:
            meta = json.loads(self._meta_path(bucket, key).read_text())
        except FileNotFoundError:  # a file copied in by hand: its ETag is worked out now
            meta = {"ETag": f'"{_md5_of(path)}"'}
        stat = path.stat()
        modified = meta.get("LastModified")
        when = dt.datetime.fromisoformat(modified) if modified else dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        return ObjectInfo(key, stat.st_size, meta["ETag"], when)

    def _bucket_path(self, bucket: str) -> Path:
        path = self.root / bucket
        if "/" in bucket or bucket in ("", ".", "..") or not (path / ".meta").is_dir():
            raise S3Error("NoSuchBucket", "The specified bucket does not exist")
        return path

    def _object_path(self, bucket: str, key: str) -> Path:
        if not key:
            raise S3Error("InvalidArgument", "An object key must not be empty")
        return self._bucket_path(bucket) / _file_name(key)

    def _meta_path(self, bucket: str, key: str) -> Path:
        return self._bucket_path(bucket) / ".meta" / _file_name(key)


def _check_bucket_name(bucket: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    if not 3 <= len(bucket) <= 63 or not set(bucket) <= allowed or bucket[0] in ".-" or bucket[-1] in ".-":
        raise S3Error(
            "InvalidBucketName",
            f"'{bucket}' is not a valid bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, "
            "beginning and ending with a letter or digit",
        )


def _file_name(key: str) -> str:
    return urllib.parse.quote(key, safe="")


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect") from None


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()  # S3 ETags are MD5
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, chunks: Iterable[bytes], seen: Callable[[bytes], None] | None = None) -> int:
    """Write ``chunks`` to a temporary file, then rename it to ``path``; returns the size."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".put-")
    size = 0
    try:
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
                size += len(chunk)
                if seen is not None:
                    seen(chunk)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return size


# -- boto3 -----------------------------------------------------------------------------------------


class BotoStore:
    """S3 through boto3: AWS itself, or any S3-compatible endpoint."""

    def __init__(self, endpoint_url: str | None = None, region: str | None = None) -> None:
        import boto3

        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1")

    def get_object(self, bucket: str, key: str, start: int = 0) -> BinaryIO:
        ranged = {"Range": f"bytes={start}-"} if start else {}
        response = self._call("get_object", Bucket=bucket, Key=key, **ranged)
        return response["Body"]  # type: ignore[no-any-return]

    def put_object(self, bucket: str, key: str, body: bytes) -> ObjectInfo:
        self._call("put_object", Bucket=bucket, Key=key, Body=body)
        return self.head_object(bucket, key)

    def put_stream(self, bucket: str, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        # boto3's managed upload reads the stream in parts (a multipart upload past 8 MB)
        self._call("upload_fileobj", _ChunkReader(chunks), bucket, key)
        return self.head_object(bucket, key)

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        response = self._call("head_object", Bucket=bucket, Key=key)
        return ObjectInfo(key, response["ContentLength"], response["ETag"], response["LastModified"])

    def list_objects(
        self, bucket: str, prefix: str = "", token: str | None = None, max_keys: int = LIST_PAGE
    ) -> ListPage:
        arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if token:
            arguments["ContinuationToken"] = token
        response = self._call("list_objects_v2", **arguments)
        objects = tuple(
            ObjectInfo(o["Key"], o["Size"], o["ETag"], o["LastModified"], o.get("StorageClass", "STANDARD"))
            for o in response.get("Contents", ())
        )
        return ListPage(objects, response.get("NextContinuationToken") if response.get("IsTruncated") else None)

    def _call(self, method: str, *positional: Any, **arguments: Any) -> Any:
        try:
            return getattr(self.client, method)(*positional, **arguments)
        except Exception as exc:
            error = getattr(exc, "response", {}).get("Error", {})
            code = error.get("Code") or type(exc).__name__
            message = error.get("Message") or str(exc)
            if code == "404":  # HeadObject's answer has no body to name the error
                code, message = "NoSuchKey", "The specified key does not exist."
            raise S3Error(code, message) from None


# -- choosing --------------------------------------------------------------------------------------


class _ChunkReader(io.RawIOBase):
    """Chunks of bytes as a readable stream, for boto3's upload_fileobj."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = iter(chunks)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            self.pending = next(self.chunks, b"")
            if not self.pending:
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def uses_boto(environ: dict[str, str] | None = None) -> bool:
    """Whether the engine's S3 is boto3's (ORCHESTRATOR_S3=aws or an endpoint URL), not local buckets."""
    env = os.environ if environ is None else environ
    return env.get("ORCHESTRATOR_S3", "").lower() == "aws" or bool(env.get("ORCHESTRATOR_S3_ENDPOINT_URL"))


def local_root(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("ORCHESTRATOR_S3_ROOT"):
        return Path(env["ORCHESTRATOR_S3_ROOT"]).expanduser()
    home = Path(env.get("ORCHESTRATOR_HOME") or Path.home() / ".orchestrator").expanduser()
    return home / "buckets"


def object_store() -> ObjectStore:
    """The store the environment chooses (read each call: tests and the CLI change it)."""
    if uses_boto():
        region = os.environ.get("ORCHESTRATOR_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return _boto_store(os.environ.get("ORCHESTRATOR_S3_ENDPOINT_URL") or None, region)
    return LocalBuckets(local_root())


_BOTO: dict[tuple[str | None, str | None], BotoStore] = {}


def _boto_store(endpoint: str | None, region: str | None) -> BotoStore:
    # one client per endpoint: boto3 clients are thread-safe and costly to build
    key = (endpoint, region)
    if key not in _BOTO:
        _BOTO[key] = BotoStore(endpoint, region)
    return _BOTO[key]
