"""The extract file itself: the events of some MIDs over some UTC days, written gzip-compressed
while it is hashed, from a PostgreSQL server-side cursor so memory stays flat at any size.

PostgreSQL builds each output line, the JSON record or the CSV row (records.py: a piece's part
once per piece, text put together directly unless a value needs escaping), so Python only
joins a chunk of ready lines and compresses it: no per-row Python work. Three things overlap:
PostgreSQL building the next chunk (a prefetch thread keeps a FETCH waiting), the main thread
joining the last one, and a gzip thread compressing and hashing. That is what keeps a build
near a plain COPY of the same rows (docs/extracts.md, "Speed").
"""

import gzip
import hashlib
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connection, transaction

from tracking.constants import ExtractFormat
from tracking.extracts import records

# zlib level 1. Measured on generated NDJSON lines: level 1 compresses ~400 MB/s to 1/15,
# level 3 ~370 MB/s to 1/16, level 6 (gzip's default) ~170 MB/s to 1/22. The build shares a
# worker's CPU with PostgreSQL building the lines, and the file is written once and
# downloaded a few times, so speed wins; 1/15 is still small.
COMPRESS_LEVEL = 1


@dataclass(frozen=True, slots=True)
class BuildResult:
    rows: int
    byte_count: int  # bytes of the gzip file written
    sha256: str  # hex SHA-256 of the gzip bytes written (what the downloader gets)


class AccessRevoked(Exception):
    """Raised by a build's access check when a MID is no longer allowed: the build stops."""

    def __init__(self, mid: str, reason: str) -> None:
        super().__init__(f"Access to MID {mid} was withdrawn during the build ({reason}).")
        self.mid = mid
        self.reason = reason


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC moments [start 00:00, the day after end 00:00) the range covers."""
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def rows_sql(*, mids: Sequence[str], start: date, end: date) -> tuple[str, list]:
    """The plain SELECT of the extract's rows (the benchmark runs COPY (this) TO STDOUT as its
    baseline): the stored columns, unordered, no formatting."""
    lower, upper = day_bounds(start, end)
    return records.plain_select(), [list(mids), lower, upper]


class _HashingWriter:
    """A write-only file that passes bytes on to `out` and hashes and counts them on the way."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.byte_count = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.byte_count += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


class _GzipThread:
    """Compresses, hashes and writes in a second thread while the main thread waits for the
    database's next chunk. zlib, crc32 and SHA-256 release the GIL on large buffers and psycopg
    does while it waits, so the two overlap; the queue holds at most two chunks, so memory
    stays flat."""

    def __init__(self, sink: _HashingWriter) -> None:
        # mtime=0 and no file name in the header: the same rows give the same bytes and hash.
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=sink, compresslevel=COMPRESS_LEVEL, mtime=0
        )
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="extract-gzip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._gz.write(data)
                except BaseException as exc:  # handed to the main thread by write()/close()
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        """Waits for the last chunk and writes the gzip trailer."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._gz.close()

    def abandon(self) -> None:
        """Stops the thread without finishing the file (the caller deletes it)."""
        self._queue.put(None)
        self._thread.join()


class _Prefetcher:
    """Runs the cursor's FETCHes in a thread, one chunk ahead: PostgreSQL builds the next
    chunk's lines while this process joins and compresses the last one (a named cursor only
    works while a FETCH is waiting on it). psycopg connections are thread-safe: the access
    checks the main thread runs meanwhile wait their turn on the same connection."""

    def __init__(self, cursor: Any, chunk_rows: int) -> None:
        self._cursor = cursor
        self._chunk_rows = chunk_rows
        self._queue: queue.Queue[list | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="extract-fetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                rows = self._cursor.fetchmany(self._chunk_rows)
                self._queue.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # handed to the main thread by next()
            self._queue.put(exc)

    def next(self) -> list:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stops after the FETCH in flight; the cursor is free once this returns."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)  # unblocks a put() on a full queue
            except queue.Empty:
                pass
        self._thread.join()


def write_extract(
    *,
    mids: Sequence[str],
    start: date,
    end: date,
    file_format: str,
    out: BinaryIO,
    chunk_rows: int | None = None,
    check_access: Callable[[], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> BuildResult:
    """Write the extract to `out` (gzip) and return its row count, size and SHA-256.

    check_access() runs before the first chunk is written and between chunks; it raises
    AccessRevoked to stop the build (the caller throws the partial output away). A chunk is
    read from the database one step ahead but written only after the check that precedes it.
    on_progress(rows_so_far) runs after each chunk.
    """
    file_format = ExtractFormat(file_format)  # ValueError for an unknown format
    chunk_rows = chunk_rows or settings.EXTRACT_CHUNK_ROWS
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    lower, upper = day_bounds(start, end)
    sink = _HashingWriter(out)
    gz = _GzipThread(sink)
    rows = 0
    try:
        if file_format == ExtractFormat.CSV:
            gz.write(records.csv_header().encode() + b"\n")
        # A named cursor lives inside a transaction (read-only here, so atomic() costs nothing).
        with transaction.atomic():
            connection.ensure_connection()
            name = f"extract_{uuid.uuid4().hex}"
            with connection.connection.cursor(name=name) as cursor:
                cursor.itersize = chunk_rows
                cursor.execute(
                    records.lines_select(file_format),
                    {"mids": list(mids), "lower": lower, "upper": upper},
                )
                fetcher = _Prefetcher(cursor, chunk_rows)
                try:
                    while True:
                        if check_access is not None:
                            check_access()
                        chunk = fetcher.next()
                        if not chunk:
                            break
                        gz.write("\n".join([row[0] for row in chunk]).encode() + b"\n")
                        rows += len(chunk)
                        if on_progress is not None:
                            on_progress(rows)
                finally:
                    fetcher.stop()
    except BaseException:
        gz.abandon()
        raise
    gz.close()
    return BuildResult(rows=rows, byte_count=sink.byte_count, sha256=sink.digest.hexdigest())
