"""Snippets are HTML-safe: text is escaped, only the backends' marks become <mark>."""

from search.domain.snippets import MARK_END, MARK_START, indexable, render_snippet


def test_marks_become_mark_elements_and_everything_else_is_escaped() -> None:
    marked = f'<script>alert("x")</script> & {MARK_START}rollback{MARK_END} it\'s'

    assert render_snippet(marked) == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; <mark>rollback</mark> it&#x27;s"
    )


def test_indexed_text_cannot_hold_a_mark_or_a_nul() -> None:
    text = f"a{MARK_START}b{MARK_END}c\x00d\te\nf"

    assert indexable(text) == "a b c d\te\nf"
    assert render_snippet(indexable(text)) == "a b c d\te\nf"
