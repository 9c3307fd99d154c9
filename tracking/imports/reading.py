"""Reading an import: NDJSON (one JSON object per line) or CSV (a header row), optionally
gzipped, from a file or from lines already in memory. Yields (line number, record, error):
exactly one of record and error is set, so every line is accounted for."""

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

Format = Literal["ndjson", "csv"]
FORMATS: tuple[Format, ...] = ("ndjson", "csv")
Row = tuple[int, dict[str, Any] | None, str | None]


class ImportFileError(Exception):
    """The input as a whole cannot be read (unknown format, no usable CSV header)."""


def detect_format(path: Path) -> Format:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    if name.endswith(".csv"):
        return "csv"
    raise ImportFileError(
        f"Cannot tell the format of {path.name}: name it .ndjson, .jsonl or .csv (optionally "
        "with .gz), or give the format."
    )


class FileSource:
    """A file opened for reading, with how far into it (in bytes on disk) the reader is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._raw = path.open("rb")
        self.stream: BinaryIO = self._raw
        self.text: io.TextIOWrapper | None = None
        if path.name.lower().endswith(".gz"):
            self.stream = gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]

    def position(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        if self.text is not None:
            self.text.close()
        self.stream.close()
        self._raw.close()


_decode = json.JSONDecoder().decode


def read_ndjson(lines: Iterable[bytes | str]) -> Iterator[Row]:
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue  # blank lines (a trailing newline, spacing) are not rows
        try:
            # Decoding first spares json.loads its encoding detection on every line.
            record = _decode(line.decode() if isinstance(line, bytes) else line)
        except UnicodeDecodeError:
            yield line_no, None, "the line is not valid UTF-8"
            continue
        except json.JSONDecodeError as exc:
            yield line_no, None, f"not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        except (ValueError, RecursionError) as exc:
            # Not JSON errors, but what json raises for a huge integer or deep nesting.
            yield line_no, None, f"cannot be read as JSON ({type(exc).__name__})"
            continue
        if not isinstance(record, dict):
            yield line_no, None, "not a JSON object"
            continue
        yield line_no, record, None


def read_csv(lines: Iterable[str], required: tuple[str, ...]) -> Iterator[Row]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportFileError(f"The CSV header cannot be read: {exc}") from None
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(f"The CSV header lacks the required columns: {', '.join(missing)}.")
    width = len(header)
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # Reported where the bad row started; the reader goes on with the next line, so no
            # later row is dropped unreported.
            line_no, start = start, reader.line_num + 1
            yield line_no, None, f"cannot be read as CSV ({exc})"
            continue
        line_no, start = start, reader.line_num + 1
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            yield line_no, None, f"has {len(cells)} cells; the header has {width}"
            continue
        yield line_no, dict(zip(header, cells, strict=True)), None


def text_lines(stream: BinaryIO) -> io.TextIOWrapper:
    # surrogateescape: a stray non-UTF-8 byte fails its own row (rows.py), not the whole file.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")


def rows_from_lines(
    lines: Iterable[bytes | str], fmt: Format, required: tuple[str, ...]
) -> Iterator[Row]:
    if fmt == "ndjson":
        return read_ndjson(lines)
    decoded = (
        line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        for line in lines
    )
    return read_csv(decoded, required)


def rows_from_records(records: Iterable[dict[str, Any]]) -> Iterator[Row]:
    for line_no, record in enumerate(records, 1):
        yield line_no, record, None


def rows_from_file(
    source: FileSource, fmt: Format, required: tuple[str, ...]
) -> tuple[Iterator[Row], Callable[[], int]]:
    if fmt == "ndjson":
        return read_ndjson(source.stream), source.position
    # Held by the source: a wrapper dropped when reading ends would close the file with it.
    source.text = text_lines(source.stream)
    return read_csv(source.text, required), source.position
