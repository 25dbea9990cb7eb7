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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import scratch_database
from orchestrator import config
from orchestrator.service import Service

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
    with scratch_database(ADMIN, "orchestrator_bench_queues") as url:
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
