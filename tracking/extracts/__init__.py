"""Scan event extracts: request, staff approval, a streamed gzip build, signed downloads and
the cursor-paginated pull API (docs/extracts.md)."""
