"""Which HTTP client should the gateway call upstreams with? CPU per call, measured.

    .venv/bin/python bench/http_clients.py            # starts the fake upstream itself

One process makes N POSTs of a small chat body to the fake upstream (granian, its own process) at
concurrency 1 and 64 with each client, and prints requests per second and this process's CPU per
call (all its threads: pyreqwest's Tokio runtime thread included). httpx over aiohttp (`pip install
httpx-aiohttp`) is measured when installed; pyreqwest (Rust reqwest/hyper, in the dev lock) too.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import orjson
import uvloop

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("N", "6000"))
BODY = orjson.dumps({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]})
HEADERS = {"content-type": "application/json", "authorization": "Bearer k"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(name: str, call, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            await call()

    for _ in range(200):
        await call()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(N)))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    print(f"{name:<14} c={concurrency:<3} {N / wall:8,.0f} rps  {cpu / N * 1e6:6.0f} µs CPU per call", flush=True)


async def main(url: str) -> None:
    for concurrency in (1, 64):
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=512, max_keepalive_connections=128)) as c:

            async def via_httpx(c=c):
                response = await c.post(url, content=BODY, headers=HEADERS)
                assert response.status_code == 200

            await measure("httpx", via_httpx, concurrency)
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:
            print("httpx-aiohttp  (not installed: skipped)")
        else:
            transport = AiohttpTransport(client=aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)))
            async with httpx.AsyncClient(transport=transport) as c:

                async def via_httpx_aiohttp(c=c):
                    response = await c.post(url, content=BODY, headers=HEADERS)
                    assert response.status_code == 200

                await measure("httpx-aiohttp", via_httpx_aiohttp, concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session:

            async def via_aiohttp(session=session):
                async with session.post(url, data=BODY, headers=HEADERS) as response:
                    await response.read()
                    assert response.status == 200

            await measure("aiohttp", via_aiohttp, concurrency)
        try:
            from pyreqwest.client import ClientBuilder
        except ImportError:
            print("pyreqwest      (not installed: skipped)")
        else:
            async with ClientBuilder().build() as client:

                async def via_pyreqwest(client=client):
                    response = await client.post(url).headers(HEADERS).body_bytes(BODY).build().send()
                    await response.bytes()
                    assert response.status == 200

                await measure("pyreqwest", via_pyreqwest, concurrency)


if __name__ == "__main__":
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    upstream = subprocess.Popen(
        [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--loop", "uvloop", "--no-access-log",
         "--log-level", "warning", "--port", str(port), "bench.fake_upstream:app"], cwd=ROOT)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        uvloop.run(main(f"http://127.0.0.1:{port}/v1/chat/completions"))
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
