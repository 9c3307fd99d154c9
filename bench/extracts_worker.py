"""One measurement of the extract benchmark, in a fresh process as a Celery worker would run it:
``python -m bench.extracts_worker '<json job>'`` prints one JSON line with the result.

Time: wall-clock, the worker's CPU time (all threads) and the CPU time of the PostgreSQL
backend serving its connection (read from /proc: same machine; parallel workers a query may
start are not counted), so a result shows on which side of the connection the time went.

Memory is the process's resident set: its current size (VmRSS) after Django is set up, the
database connection open and the modules imported, just before the timed part (the
baseline), and its high-water mark (VmHWM) after the build. The mark is reset to the current
size just before the build (``echo 5 > /proc/self/clear_refs``), so the peak is the build's
alone: ``ru_maxrss`` would not do, since Linux carries the high-water mark of the process
that forked over into the child (the benchmark's own parent, a hundred-odd MB), and Django's
set-up has its own peak. The growth is that peak minus the baseline.

Kinds:
- ``builder``: tracking.extracts.build.write_extract into a file, NDJSON or CSV.
- ``copy``: ``COPY (rows_sql) TO STDOUT``, every block read and thrown away (bytes and rows
  counted): the floor of reading the same rows out of PostgreSQL.
- ``copy_gzip``: the same COPY, gzip-compressed at the builder's level and SHA-256-hashed into a
  file: what a builder doing no per-row work of its own at all would cost.
"""

import gc
import gzip
import hashlib
import json
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path


def _memory_kib(field: str) -> int:
    """A field of /proc/self/status in KiB: VmRSS (now) or VmHWM (the high-water mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    from bench.environment import setup_django

    setup_django()
    from django.db import connection

    # Before the first connection: every measurement reads the bench database.
    connection.settings_dict["NAME"] = job["database"]
    connection.ensure_connection()

    from tracking.extracts import build

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('cursor_tuple_fraction'), current_setting('jit'), "
            "current_setting('work_mem')"
        )
        names = ("cursor_tuple_fraction", "jit", "work_mem")
        server_settings = dict(zip(names, cursor.fetchone(), strict=True))

    mids, start, end = job["mids"], date.fromisoformat(job["start"]), date.fromisoformat(job["end"])
    out_path = Path(job["out"]) if job.get("out") else None
    run = {"builder": _builder, "copy": _copy, "copy_gzip": _copy_gzip, "plan": _plan}[job["kind"]]

    gc.collect()
    reset = _reset_peak()
    baseline_rss, peak_before = _memory_kib("VmRSS"), _memory_kib("VmHWM")
    backend = _backend_pid()
    cpu_before, server_before = _cpu_seconds(), _process_cpu_seconds(backend)
    started = time.perf_counter()
    result = run(build, job, mids, start, end, out_path)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    server = _process_cpu_seconds(backend) - server_before
    peak = _memory_kib("VmHWM")
    result.update(
        kind=job["kind"],
        server_settings=server_settings,
        seconds=seconds,
        baseline_rss_kib=baseline_rss,
        peak_kib=peak,
        # Without the reset the mark may predate the build: count only what it rose by.
        growth_kib=peak - (baseline_rss if reset else peak_before),
        worker_cpu_seconds=cpu,
        server_cpu_seconds=server,
        peak_reset=reset,
        ru_maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    print(json.dumps(result))
    return 0


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cpu_seconds() -> float:
    """This process's CPU time, all its threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float:
    """Another process's CPU time (here: the PostgreSQL backend serving this connection, on
    the same machine), from /proc/<pid>/stat; 0.0 where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime and stime fields 14 and 15 (man proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _builder(build, job, mids, start, end, out_path) -> dict:
    calls = {"check_access": 0, "on_progress": 0}

    # Stand-ins for the task's callbacks, counting their calls (the real access check is a
    # cached decision per MID: a fraction of a millisecond per chunk of thousands of rows).
    def check_access() -> None:
        calls["check_access"] += 1

    def on_progress(rows: int) -> None:
        calls["on_progress"] += 1

    with out_path.open("wb") as out:
        result = build.write_extract(
            mids=mids,
            start=start,
            end=end,
            file_format=job["format"],
            out=out,
            chunk_rows=job.get("chunk_rows"),
            check_access=check_access,
            on_progress=on_progress,
        )
    return {
        "rows": result.rows,
        "bytes": result.byte_count,
        "sha256": result.sha256,
        "callbacks": calls,
    }


class _Planned(Exception):
    """Stops a build once the plan of its cursor's query is known."""


def _plan(build, job, mids, start, end, out_path) -> dict:
    """The plan PostgreSQL picks for whatever query the builder declares its named cursor
    with (caught at psycopg's ServerCursor.execute, so it follows the builder's SQL as that
    changes): ``EXPLAIN DECLARE`` on the same connection, in the builder's transaction."""
    import psycopg

    plan: list[str] = []
    original = psycopg.ServerCursor.execute

    def explain(cursor, query, params=None, **kwargs):
        with cursor.connection.cursor() as plain:
            plain.execute(f"EXPLAIN DECLARE bench_plan CURSOR FOR {query}", params)
            plan.extend(row[0] for row in plain.fetchall())
        raise _Planned

    psycopg.ServerCursor.execute = explain
    try:
        job = {**job, "kind": "builder"}
        _builder(build, job, mids, start, end, Path("/dev/null"))
    except _Planned:
        pass
    finally:
        psycopg.ServerCursor.execute = original
    return {"rows": 0, "bytes": 0, "plan": plan}


def _copy_rows(build, mids, start, end):
    """Yield COPY's blocks, in PostgreSQL's text format (one row per line)."""
    from django.db import connection

    sql, params = build.rows_sql(mids=mids, start=start, end=end)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT", params) as copy,
    ):
        yield from copy


def _copy(build, job, mids, start, end, out_path) -> dict:
    # psycopg hands over one block per row (a memoryview of libpq's CopyData message): the
    # blocks are the rows, and the text format escapes newlines inside values.
    rows = size = 0
    for block in _copy_rows(build, mids, start, end):
        size += len(block)
        rows += 1
    return {"rows": rows, "bytes": size, "raw_bytes": size}


def _copy_gzip(build, job, mids, start, end, out_path) -> dict:
    rows = raw = 0
    digest = hashlib.sha256()

    class Sink:
        def __init__(self, out) -> None:
            self.out, self.size = out, 0

        def write(self, data: bytes) -> int:
            digest.update(data)
            self.size += len(data)
            return self.out.write(data)

        def flush(self) -> None:
            self.out.flush()

    with out_path.open("wb") as out:
        sink = Sink(out)
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=sink, compresslevel=build.COMPRESS_LEVEL, mtime=0
        ) as gz:
            # Rows gathered into blocks of 256 KiB, as the builder writes chunks, not rows.
            pending = bytearray()
            for block in _copy_rows(build, mids, start, end):
                pending += block
                rows += 1
                if len(pending) >= 1 << 18:
                    raw += len(pending)
                    gz.write(pending)
                    pending.clear()
            raw += len(pending)
            gz.write(pending)
    return {"rows": rows, "bytes": sink.size, "raw_bytes": raw, "sha256": digest.hexdigest()}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
