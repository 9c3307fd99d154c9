"""Helpers for tests that race real PostgreSQL connections against each other."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same moment on its own connection; return results or errors."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def _backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def race_past_the_precheck(first: Callable[[], Any], second: Callable[[], Any]) -> list[Any]:
    """Make `second` pass its "does it exist yet?" check while `first` has written but not
    committed, so only the database's unique constraint can stop the duplicate.

    `first` runs in a transaction that stays open until `second` is blocked on the row lock
    of the unique index (seen in pg_stat_activity), then commits. No sleeps decide the order.
    """
    written, release = threading.Event(), threading.Event()
    outcomes: list = [None, None]

    def run_first():
        try:
            with transaction.atomic():
                outcomes[0] = first()
                written.set()
                release.wait(timeout=20)
        except Exception as exc:  # noqa: BLE001
            outcomes[0] = exc
            written.set()
        finally:
            connection.close()

    def run_second():
        try:
            written.wait(timeout=20)
            outcomes[1] = second()
        except Exception as exc:  # noqa: BLE001
            outcomes[1] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    written.wait(timeout=20)
    deadline = time.monotonic() + 20
    while _backends_waiting_on_a_lock() == 0 and time.monotonic() < deadline:
        if not threads[1].is_alive():
            break  # it finished without blocking (a pre-check saw the row): nothing to wait for
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes
