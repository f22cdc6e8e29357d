"""Chaos: `scenaria worker` processes killed with SIGKILL while a slow SMTP server
takes about a second per message. Counts the messages the server received more
than once (re-deliveries): each kill may cost at most the messages in flight
(one, at the deliverer's concurrency 1), not the batch the worker had claimed.

The SMTP sink is aiosmtpd in this process; its DATA handler records the message,
then waits ``--delay`` seconds before answering, so a worker killed while it
waits has delivered a message it never recorded (as with a real server that
queued it already). The workers share a
file clock; after each kill it is moved past the lease, so the dead worker's
messages are taken over at once instead of after two minutes.

    .venv/bin/python benchmarks/chaos_slow_smtp.py [--messages 40] [--kills 5]
        [--delay 1.0] [--database URL] [--src DIR]

``--src`` runs the workers from another checkout's ``src`` (e.g. a worktree of an
older commit) to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from scenaria.clock import FileClock
from scenaria.store.database import Store

LEASE = 120.0
"""The deliverer's default lease."""


class SlowSink:
    """Takes ``delay`` seconds per message; counts each key it accepted."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        for line in data.split(b"\r\n"):
            if line.lower().startswith(b"x-scenaria-key:"):
                with self.lock:
                    self.received[line.split(b":", 1)[1].strip().decode()] += 1
                break
        # Counted before the slow reply: a client killed while it waits has had its
        # message delivered without knowing it (the worst case for duplicates).
        await asyncio.sleep(self.delay)
        return "250 OK queued"

    def total(self) -> int:
        with self.lock:
            return sum(self.received.values())


def queue(store: Store, now: float, count: int) -> None:
    rows = [
        {
            "key": f"{i}:mail:1",
            "task_id": i,
            "scenario_id": 1,
            "node_id": "mail",
            "profile_id": i,
            "channel": "email",
            "payload": {"to": f"user{i}@example.com", "subject": "Hi", "text": "Hello"},
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(1, count + 1)
    ]
    with store.transaction() as tx:
        tx.outbox.insert_many(rows)


def statuses(store: Store) -> Counter[str]:
    with store.read() as tx:
        return Counter(r["status"] for r in tx.outbox.all("email"))


def spawn(args: argparse.Namespace, url: str, resources: Path, clock: Path, log: Path) -> Any:
    env = {**os.environ, "SCENARIA_SECRET": "chaos"}
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    command = [
        sys.executable,
        "-m",
        "scenaria.cli",
        "worker",
        "--database",
        url,
        "--no-scheduler",
        "--resources",
        str(resources),
        "--idle",
        "0.05",
        "--test-clock-file",
        str(clock),
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--database", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--src", help="run the workers from this src directory")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = args.database or f"sqlite:///{work / 'chaos.db'}"
        store = Store(url)
        store.create_all()
        clock = FileClock(work / "clock", start=time.time())
        queue(store, clock.now(), args.messages)

        sink = SlowSink(args.delay)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        resources = work / "resources.json"
        resources.write_text(
            json.dumps({"email": {"default": {"smtp_host": "127.0.0.1", "smtp_port": port}}}),
            encoding="utf-8",
        )
        log = work / "workers.log"
        started = time.monotonic()
        kills = 0
        try:
            while kills < args.kills:
                worker = spawn(args, url, resources, clock.path, log)
                before = sink.total()
                # Let it deliver a few, then kill it at a random moment of a send.
                wanted = before + rng.randint(2, 4)
                while sink.total() < wanted and worker.poll() is None:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, args.delay))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                kills += 1
                clock.advance(LEASE + 1)
            worker = spawn(args, url, resources, clock.path, log)
            deadline = time.monotonic() + args.messages * args.delay * 3 + 60
            while statuses(store).get("sent", 0) < args.messages:
                if time.monotonic() > deadline:
                    raise SystemExit(f"not all sent: {dict(statuses(store))}\n{log.read_text()}")
                time.sleep(0.1)
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        finally:
            controller.stop()
            store.dispose()

        received = sink.received
        duplicates = sum(received.values()) - len(received)
        result = {
            "kills": kills,
            "messages": args.messages,
            "received": sum(received.values()),
            "distinct": len(received),
            "duplicates": duplicates,
            "duplicates_per_kill_max_allowed": 1,
            "bounded": duplicates <= kills and len(received) == args.messages,
            "seconds": round(time.monotonic() - started, 1),
            "delay_per_message": args.delay,
            "src": args.src or "this checkout",
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
