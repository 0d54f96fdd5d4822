"""HTML-safe snippets: the backends mark matches with two control characters, which indexed
text never holds; everything else is escaped and the marks become `<mark>` ... `</mark>`."""

import html
import re

MARK_START = "\x02"
MARK_END = "\x03"
ELLIPSIS = "…"
# Control characters other than tab and newline leave indexed text (PostgreSQL refuses NUL;
# the marks must be unambiguous).
_UNINDEXABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def indexable(text: str) -> str:
    """`text` as the index stores it: control characters (but tab and newline) as spaces."""
    return _UNINDEXABLE.sub(" ", text)


def render_snippet(marked: str) -> str:
    """A backend's marked snippet as HTML: escaped text, matches in `<mark>` elements."""
    escaped = html.escape(marked, quote=True)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
