"""Where product photos are kept: the storage port and its two adapters, picked by the setting
``photo_storage``.

- ``folder``: files under a folder (``<data_dir>/media`` by default), served by the catalog itself
  at ``/catalog/media/<key>``. The embedded runtime's choice.
- ``s3``: objects in an S3-compatible bucket (AWS S3, MinIO, Garage, Scaleway, OVH...). Photos are
  public by nature and a photo's key never changes (a new photo gets a new id), so they are read
  straight from the bucket at stable, cacheable addresses: ``photo_public_url`` (a CDN, say), or
  the bucket's own ``<endpoint>/<bucket>``. The bucket must then let anyone read its
  ``photos/`` objects (a bucket policy allowing ``s3:GetObject`` on them); the catalog itself
  only ever writes and deletes them, with the access key of the settings. No presigned URLs:
  they would expire inside pages and caches, and differ on every page.

Keys are made by the catalog (``photos.photo_keys``), and both adapters refuse any other shape, so
no path or key ever comes from what a person sent. Blocking work (files, boto3) runs in threads.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Protocol
from uuid import uuid4

from libs.kit.errors import NotFound

# The objects never change under their key: caches may keep them for good.
CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
_KEY = re.compile(r"(?:[a-z0-9][a-z0-9-]*/)*[a-z0-9][a-z0-9-]*\.(?:" + "|".join(CONTENT_TYPES) + ")")


class PhotoStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def delete(self, keys: list[str]) -> None:
        """Deletes what exists of ``keys``; a missing one is no error."""

    def url(self, key: str) -> str:
        """Where a browser reads the object."""


def checked_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise NotFound("no such media")
    return key


def content_type_of(key: str) -> str:
    return CONTENT_TYPES[checked_key(key).rsplit(".", 1)[1]]


class FolderStorage:
    def __init__(self, root: Path, public_url: str = "/catalog/media") -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path_of(key), data)

    async def delete(self, keys: list[str]) -> None:
        paths = [self.path_of(key) for key in keys]
        await asyncio.to_thread(_unlink_all, paths)

    def url(self, key: str) -> str:
        return f"{self.public_url}/{checked_key(key)}"

    def path_of(self, key: str) -> Path:
        """The file of ``key``: always inside the folder, whatever ``key`` says."""
        root = self.root.resolve()
        path = (root / checked_key(key)).resolve()
        if not path.is_relative_to(root):
            raise NotFound("no such media")
        return path

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then renamed: a reader sees the whole file or none.
        partial = path.with_name(f".{path.name}.{uuid4().hex}")
        partial.write_bytes(data)
        os.replace(partial, path)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class S3Storage:
    """An S3-compatible bucket; its client is made when the service starts."""

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str,
                 access_key_id: str | None, secret_access_key: str | None,
                 public_url: str | None = None) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self._credentials = (access_key_id, secret_access_key)
        self.public_url = (public_url or self._bucket_url()).rstrip("/")
        self._client = None

    async def start(self) -> None:
        self._client = await asyncio.to_thread(self._make_client)

    async def stop(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=checked_key(key),
                                Body=data, ContentType=content_type, CacheControl=CACHE_CONTROL)

    async def delete(self, keys: list[str]) -> None:
        objects = [{"Key": checked_key(key)} for key in keys]
        if objects:
            await asyncio.to_thread(self._client.delete_objects, Bucket=self.bucket,
                                    Delete={"Objects": objects, "Quiet": True})

    def url(self, key: str) -> str:
        return f"{self.public_url}/{checked_key(key)}"

    def _bucket_url(self) -> str:
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com"

    def _make_client(self):
        import boto3
        from botocore.config import Config

        access_key_id, secret_access_key = self._credentials
        # Other S3-compatible servers take the bucket in the path; AWS names it in the host.
        addressing = "path" if self.endpoint_url else "virtual"
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=Config(s3={"addressing_style": addressing}, connect_timeout=5, read_timeout=30,
                          retries={"max_attempts": 3, "mode": "standard"}),
        )
