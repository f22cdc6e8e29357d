"""HTTP API throughput against a real ``scenaria serve`` (uvicorn, SQLite, worker on).

Concurrent local clients measure, in one run:
  * baseline: the cheapest authenticated read (GET /databases/{id}), the floor set by
    HTTP, FastAPI and token checking on this machine;
  * single profile imports (POST /databases/{id}/profiles) per second;
  * batch imports of 1,000 profiles (POST /databases/{id}/profiles/batch), profiles/s;
  * engage calls (POST /scenarios/{id}/engage) per second.

    .venv/bin/python benchmarks/api.py [--requests 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

SCENARIA = str(Path(sys.executable).parent / "scenaria")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int) -> tuple[subprocess.Popen[bytes], str]:
    created = subprocess.run(
        [SCENARIA, "token", "create", "--user", "bench", "--admin", "--database", url],
        check=True,
        capture_output=True,
        text=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    server = subprocess.Popen(
        [SCENARIA, "serve", "--database", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                return server, token
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("scenaria serve did not start")


def hammer(
    base: str, token: str, clients: int, jobs: list[Any], call: Callable[[httpx.Client, Any], None]
) -> float:
    """Run ``call`` for every job from ``clients`` threads; return calls per second."""
    headers = {"Authorization": f"Bearer {token}"}
    pool = [httpx.Client(base_url=base, headers=headers, timeout=60) for _ in range(clients)]
    chunks = [jobs[i::clients] for i in range(clients)]

    def work(i: int) -> None:
        for job in chunks[i]:
            call(pool[i], job)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        list(executor.map(work, range(clients)))
    elapsed = time.perf_counter() - started
    for client in pool:
        client.close()
    return len(jobs) / elapsed


def ok(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    n, clients = args.requests, args.clients
    with tempfile.TemporaryDirectory(prefix="scenaria-api-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'api.db'}"
        port = free_port()
        server, token = start_server(url, port)
        base = f"http://127.0.0.1:{port}"
        try:
            admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
            db = admin.post("/databases", json={"name": "Bench", "fields": {"n": "int"}}).json()
            db_id = db["id"]
            scenario = admin.post(
                "/scenarios",
                json={
                    "database_id": db_id,
                    "name": "Engage",
                    "reentry": "parallel",
                    "nodes": [{"id": "wait", "kind": "pause", "settings": {"days": 1}}],
                    "edges": [{"source": "default", "target": "wait"}],
                },
            ).json()
            ok(admin.post(f"/scenarios/{scenario['id']}/activate"))

            baseline = hammer(
                base,
                token,
                clients,
                list(range(n)),
                lambda c, _: ok(c.get(f"/databases/{db_id}")),
            )
            singles = hammer(
                base,
                token,
                clients,
                list(range(n)),
                lambda c, i: ok(
                    c.post(
                        f"/databases/{db_id}/profiles",
                        json={"fields": {"email": f"s{i}@x.io", "n": i}},
                    )
                ),
            )
            batch_size = 1000
            batches = (
                hammer(
                    base,
                    token,
                    min(clients, 4),
                    list(range(args.batches)),
                    lambda c, b: ok(
                        c.post(
                            f"/databases/{db_id}/profiles/batch",
                            json={
                                "profiles": [
                                    {"fields": {"email": f"b{b}-{i}@x.io", "n": i}}
                                    for i in range(batch_size)
                                ]
                            },
                        )
                    ),
                )
                * batch_size
            )
            ids = admin.post(
                f"/databases/{db_id}/profiles/batch",
                json={"profiles": [{"fields": {"email": f"e{i}@x.io"}} for i in range(n)][:1000]},
            ).json()
            profile_ids = ids["profile_ids"]
            engages = hammer(
                base,
                token,
                clients,
                [profile_ids[i % len(profile_ids)] for i in range(n)],
                lambda c, pid: ok(
                    c.post(
                        f"/scenarios/{scenario['id']}/engage",
                        json={"profile_id": pid, "api_content": {"k": 1}},
                    )
                ),
            )
            admin.close()
        finally:
            server.terminate()
            server.wait(10)
    print(f"scenaria serve on SQLite, {clients} concurrent clients, {n:,} requests per figure")
    print(f"  baseline GET /databases/{{id}}      {baseline:8,.0f} req/s")
    print(
        f"  single profile import             {singles:8,.0f} req/s  "
        f"({singles / baseline:.2f} x baseline)"
    )
    print(f"  batch import (1,000 per request)  {batches:8,.0f} profiles/s")
    print(
        f"  engage through default capture    {engages:8,.0f} req/s  "
        f"({engages / baseline:.2f} x baseline)"
    )


if __name__ == "__main__":
    main()
