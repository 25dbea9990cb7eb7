"""Local SQS queues on PostgreSQL: how fast messages are sent, and received and deleted by 1 and by 4
concurrent consumers (each receive takes up to 10 with FOR UPDATE SKIP LOCKED).

Usage: python bench/queues.py [MESSAGES]   (PostgreSQL at ORCHESTRATOR_BENCH_PG_ADMIN, default
postgresql://postgres@127.0.0.1:5432/postgres; a database of its own is made and dropped)
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid

import psycopg

from orchestrator import config
from orchestrator.service import Service
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade

ADMIN = os.environ.get("ORCHESTRATOR_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def consume(service: Service, queue: str, consumers: int) -> int:
    """Receive and delete until the queue is empty; returns how many messages were taken."""
    counts = [0] * consumers

    def consumer(index: int) -> None:
        while True:
            batch = service.receive_messages(queue, max_messages=10)["Messages"]
            if not batch:
                return
            for message in batch:
                service.delete_message(queue, message["ReceiptHandle"])
            counts[index] += len(batch)

    threads = [threading.Thread(target=consumer, args=(i,)) for i in range(consumers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts)


def main(messages: int) -> None:
    name = f"orchestrator_bench_queues_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        upgrade(url)
        service = Service(config.load({"ORCHESTRATOR_DATABASE_URL": url}))
        for consumers in (1, 4):
            queue = f"bench-{consumers}"
            service.create_queue(queue, visibility_timeout=600)
            started = time.perf_counter()
            for n in range(messages):
                service.send_message(queue, {"n": n, "payload": "x" * 200})
            sent = time.perf_counter() - started
            started = time.perf_counter()
            taken = consume(service, queue, consumers)
            took = time.perf_counter() - started
            assert taken == messages, (taken, messages)
            print(
                f"{consumers} consumer(s): sent {messages} in {sent:.2f} s ({messages / sent:.0f}/s); "
                f"received and deleted {taken} in {took:.2f} s ({taken / took:.0f}/s)"
            )
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        get_engine(url).dispose()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
