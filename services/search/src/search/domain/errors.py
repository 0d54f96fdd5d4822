"""What the domain refuses: a query or cursor the caller sent that cannot be used."""


class SearchError(ValueError):
    """A search the caller asked for that cannot run; `code` names the kind of problem."""

    code = "invalid-search"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidQueryError(SearchError):
    """The query text or a filter is out of bounds."""

    code = "invalid-query"


class InvalidCursorError(SearchError):
    """A cursor this service did not issue for this query (tampered, stale or foreign)."""

    code = "invalid-cursor"
