"""Delivery throughput: outbox messages per second through the Deliverer.

Measured in one run, on SQLite in a temporary directory, with the wall clock:
  * SMS: the Deliverer with the HTTP SMS channel to a local gateway (a
    ThreadingHTTPServer in this process), for each batch size and concurrency;
    baseline: raw httpx POSTs of the same bodies to the same gateway with the
    same number of threads, so the ratio is the cost of the outbox (claim,
    lease, render, record) over the bare HTTP exchange;
  * email: the Deliverer with the SMTP channel to a local aiosmtpd sink (one
    kept connection, so concurrency 1); baseline: raw smtplib sendmail of
    ready-made messages on one connection.

    .venv/bin/python benchmarks/delivery.py [--messages 2000] [--batch 50 200]
        [--concurrency 1 8] [--no-email]
"""

from __future__ import annotations

import argparse
import json
import smtplib
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from scenaria.channels.resources import SmsResource
from scenaria.channels.sms_http import HttpSmsChannel
from scenaria.clock import SystemClock
from scenaria.engine.delivery import Channel, Deliverer
from scenaria.store.database import Store


class Gateway:
    """A local SMS gateway: answers every POST with a message id, counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway would
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    gateway.count += 1
                    n = gateway.count
                payload = json.dumps({"id": f"gw-{n}", "status": "accepted"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def outbox_rows(channel: str, count: int, now: float) -> list[dict[str, Any]]:
    def payload(i: int) -> dict[str, Any]:
        if channel == "sms":
            return {"to": f"+1555{i:07d}", "sender": "Bench", "resource": "default", "text": "Hi"}
        return {
            "to": f"user{i}@example.com",
            "resource": "default",
            "subject": f"Hello {i}",
            "html": "<p>Hello, <a href='https://example.com/offer'>offer</a></p>",
            "text": "Hello",
        }

    return [
        {
            "key": f"{i}:node:1",
            "task_id": i,
            "scenario_id": 1,
            "node_id": "node",
            "profile_id": i,
            "channel": channel,
            "payload": payload(i),
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(1, count + 1)
    ]


@contextmanager
def queued_store(channel: str, count: int) -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.create_all()
        with store.transaction() as tx:
            tx.outbox.insert_many(outbox_rows(channel, count, time.time()))
        try:
            yield store
        finally:
            store.dispose()


def through_deliverer(
    channel_name: str, make_channel: Callable[[], Channel], count: int, batch: int, threads: int
) -> float:
    """Messages per second draining ``count`` queued messages."""
    with queued_store(channel_name, count) as store:
        channel = make_channel()
        deliverer = Deliverer(
            store, SystemClock(), {channel_name: channel}, batch_size=batch, concurrency=threads
        )
        started = time.perf_counter()
        while deliverer.run_once():
            pass
        elapsed = time.perf_counter() - started
        channel.close()
        with store.read() as tx:
            statuses = {r["status"] for r in tx.outbox.all(channel_name)}
        if statuses != {"sent"}:
            raise RuntimeError(f"not every message was sent: {statuses}")
    return count / elapsed


def raw_posts(url: str, count: int, threads: int) -> float:
    """Baseline: the same JSON bodies POSTed straight to the gateway."""
    bodies = [
        json.dumps({"to": f"+1555{i:07d}", "from": "Bench", "text": "Hi", "reference": f"{i}"})
        for i in range(count)
    ]
    with httpx.Client() as client:

        def post(body: str) -> None:
            client.post(
                url, content=body, headers={"Content-Type": "application/json"}
            ).raise_for_status()

        started = time.perf_counter()
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(post, bodies))
        else:
            for body in bodies:
                post(body)
        return count / (time.perf_counter() - started)


def bench_sms(count: int, batches: list[int], concurrencies: list[int]) -> None:
    gateway = Gateway()
    try:
        resource = {"default": SmsResource(url=gateway.url)}
        print(f"SMS over HTTP, {count} messages to a local gateway")
        print(f"  {'batch':>6} {'threads':>7} {'msg/s':>9} {'raw POST/s':>11} {'ratio':>6}")
        for threads in concurrencies:
            baseline = raw_posts(gateway.url, count, threads)
            for batch in batches:
                rate = through_deliverer(
                    "sms", lambda: HttpSmsChannel(resource), count, batch, threads
                )
                print(
                    f"  {batch:>6} {threads:>7} {rate:>9.0f} {baseline:>11.0f} "
                    f"{rate / baseline:>6.2f}"
                )
    finally:
        gateway.close()


def bench_email(count: int, batches: list[int]) -> None:
    try:
        from aiosmtpd.controller import Controller

        from scenaria.channels.email_message import build_message, to_bytes
        from scenaria.channels.email_smtp import SmtpChannel
        from scenaria.channels.resources import EmailResource
        from scenaria.channels.tracking import Links
    except ImportError as exc:
        print(f"email: skipped ({exc})")
        return

    class Sink:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            Sink.received += 1
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        resources = {"default": EmailResource(smtp_host="127.0.0.1", smtp_port=port)}
        secret = b"bench-secret"

        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for row in outbox_rows("email", count, time.time()):
                links = Links("http://127.0.0.1:8000", secret, row["key"])
                data = to_bytes(
                    build_message(row["key"], row["payload"], resources["default"], links)
                )
                smtp.sendmail("noreply@example.com", [row["payload"]["to"]], data)
        baseline = count / (time.perf_counter() - started)

        print(f"Email over SMTP, {count} messages to a local aiosmtpd sink (one connection)")
        print(f"  {'batch':>6} {'msg/s':>9} {'raw sendmail/s':>15} {'ratio':>6}")
        for batch in batches:
            rate = through_deliverer(
                "email",
                lambda: SmtpChannel(resources, "http://127.0.0.1:8000", secret),
                count,
                batch,
                1,
            )
            print(f"  {batch:>6} {rate:>9.0f} {baseline:>15.0f} {rate / baseline:>6.2f}")
    except Exception as exc:  # the email channel is young: report, do not hide the SMS figures
        print(f"email: failed ({type(exc).__name__}: {exc})")
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--no-email", action="store_true")
    args = parser.parse_args()
    bench_sms(args.messages, args.batch, args.concurrency)
    if not args.no_email:
        bench_email(args.messages, args.batch)


if __name__ == "__main__":
    main()
