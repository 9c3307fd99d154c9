"""docs/benchmarks.md holds several benchmarks' sections; each run rewrites only its own.

A section is a ``## Heading`` line and everything up to the next ``## `` heading (or the end).
"""

import re

API_HEADING = "## Tracking API"
BILLING_HEADING = "## Billing run"
EXTRACTS_HEADING = "## Scan event extracts"


def _span(text: str, heading: str) -> tuple[int, int] | None:
    start = re.search(rf"^{re.escape(heading)}[ \t]*$", text, flags=re.MULTILINE)
    if start is None:
        return None
    following = re.search(r"^## ", text[start.end() :], flags=re.MULTILINE)
    end = start.end() + following.start() if following else len(text)
    return start.start(), end


def extract(text: str, heading: str) -> str:
    """The section under ``heading`` (with its heading line), or ""."""
    span = _span(text, heading)
    return text[span[0] : span[1]].rstrip() + "\n" if span else ""


def replace(text: str, heading: str, section: str) -> str:
    """``text`` with the section under ``heading`` replaced by ``section``, or ``section``
    appended when there is none yet."""
    section = section.rstrip() + "\n"
    span = _span(text, heading)
    if span is None:
        return text.rstrip() + "\n\n" + section
    before, after = text[: span[0]], text[span[1] :]
    return before + section + ("\n" + after if after else "")
