"""The tracking store's importer (docs/tracking-data.md): `import_events` and its report."""

from tracking.imports.batches import RowError
from tracking.imports.reading import FORMATS, ImportFileError, detect_format
from tracking.imports.service import (
    DEFAULT_BATCH_SIZE,
    ImportFailed,
    ImportProgress,
    ImportReport,
    import_events,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FORMATS",
    "ImportFailed",
    "ImportFileError",
    "ImportProgress",
    "ImportReport",
    "RowError",
    "detect_format",
    "import_events",
]
