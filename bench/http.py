"""A lean HTTP/1.1 GET client over keep-alive connections, for load that the client itself must not
limit: httpx spends about a millisecond of processor time per request, which on a small machine
caps the generator below what a bare endpoint serves. This one parses no more than a status line,
Content-Length or chunked framing, and reuses its connections."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

# uvicorn closes a keep-alive connection idle for 5 s: one idle longer is not reused.
IDLE_S = 4.0


class HttpError(Exception):
    pass


class LeanClient:
    def __init__(self, base_url: str, *, connections: int = 256, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(connections)

    async def get(self, path: str) -> bytes:
        """The body of a 200 answer; anything else raises HttpError."""
        async with self._slots:
            status, body = await asyncio.wait_for(self._get(path), self.timeout_s)
        if status != 200:
            raise HttpError(f"HTTP {status}")
        return body

    async def _get(self, path: str) -> tuple[int, bytes]:
        while self._idle:
            reader, writer, used_at = self._idle.pop()
            if reader.at_eof() or time.monotonic() - used_at > IDLE_S:
                writer.close()
                continue
            try:
                return await self._on((reader, writer), path)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed it as we sent (its keep-alive ran out): what any client
                # does, send again on a new connection; a new one failing is an error.
                continue
        return await self._on(await asyncio.open_connection(self.host, self.port), path)

    async def _on(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                  path: str) -> tuple[int, bytes]:
        try:
            status, body, keep = await self._exchange(connection, path)
        except BaseException:
            connection[1].close()
            raise
        if keep:
            self._idle.append((*connection, time.monotonic()))
        else:
            connection[1].close()
        return status, body

    async def _exchange(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        path: str) -> tuple[int, bytes, bool]:
        reader, writer = connection
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                     "Accept: */*\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = await _chunks(reader)
        else:
            body = await reader.read()
            return status, body, False
        return status, body, headers.get("connection") != "close"

    async def aclose(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
