"""contexts' API over slipway.http, as search's service principal: the `ContextSource` port.

Every call goes through one `ResilientClient` (timeouts, retries with backoff and a retry
budget, a circuit breaker per host; `X-Request-ID` and W3C `traceparent` propagated) with a
bearer token from a `slipway.auth.TokenSource` (`BearerTokenAuth`: on a 401 the token is
dropped, a fresh one fetched, the call sent once more):

- in production, `ClientCredentialsTokenSource`: search's own OAuth client
  (`SEARCH_INDEXING__CLIENT__CLIENT_ID`, ...), granted `contexts:read contexts:index`;
- in development, `DevelopmentTokenSource`: HS256 tokens signed with contexts' development
  secret, which only a non-production contexts accepts.

`GET /v1/contexts/{namespace}/{name}` gives a context's current version (404: deleted or
gone); `GET /v1/contexts?cursor=` pages every live context of every namespace (backfill).
Any other failure is `SourceUnavailable`: the indexer retries later.
"""

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from search.domain.indexer import SourceUnavailable
from search.domain.model import ContextRef
from slipway.auth.signing import hs256_signing_key, mint_token
from slipway.http import ResilientClient, UpstreamError, UpstreamStatusError
from slipway.logging import get_logger

CATALOG_PATH = "/v1/contexts"
CATALOG_PAGE_SIZE = 100
INDEX_SCOPES = ("contexts:read", "contexts:index")

_log = get_logger(__name__)


def context_path(ref: ContextRef) -> str:
    """The path of a context's current version."""
    return f"/v1/contexts/{quote(ref.namespace, safe='')}/{quote(ref.name, safe='')}"


def _object(response_json: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(response_json, Mapping):
        raise SourceUnavailable(f"contexts answered {what} with something that is not an object")
    return response_json


class ContextsHttpSource:
    """The `ContextSource` port on contexts' REST API."""

    def __init__(self, client: ResilientClient, *, page_size: int = CATALOG_PAGE_SIZE) -> None:
        self._client = client
        self._page_size = page_size

    async def current(self, ref: ContextRef) -> Mapping[str, Any] | None:
        """The context's current representation; None on 404 (deleted, or gone)."""
        try:
            response = await self._client.get(context_path(ref))
        except UpstreamStatusError as error:
            if error.status == 404:
                return None
            raise SourceUnavailable(str(error)) from error
        except UpstreamError as error:
            raise SourceUnavailable(str(error)) from error
        try:
            document = _object(response.json(), f"GET {ref}")
        except ValueError as error:
            raise SourceUnavailable(f"contexts answered GET {ref} with invalid JSON") from error
        _log.info(
            "fetched context from contexts",
            context=str(ref),
            version=document.get("version"),
            status=response.status_code,
        )
        return document

    async def catalog(self, cursor: str | None) -> tuple[Sequence[Mapping[str, Any]], str | None]:
        """One page of every live context and the next page's cursor (None on the last)."""
        params: dict[str, Any] = {"limit": self._page_size}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            response = await self._client.get(CATALOG_PATH, params=params)
            page = _object(response.json(), "the catalog")
        except UpstreamError as error:
            raise SourceUnavailable(str(error)) from error
        except ValueError as error:
            raise SourceUnavailable("contexts answered the catalog with invalid JSON") from error
        items = page.get("items")
        following = page.get("next_cursor")
        if not isinstance(items, list) or not (following is None or isinstance(following, str)):
            raise SourceUnavailable("contexts answered the catalog without items or cursor")
        return [item for item in items if isinstance(item, Mapping)], following


class DevelopmentTokenSource:
    """HS256 tokens for a development contexts (its development secret), minted locally.

    A `slipway.auth.TokenSource`. Only a contexts outside production accepts HS256, and
    search refuses this source in production (`IndexingSettings`)."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str,
        audience: str,
        subject: str,
        scopes: Sequence[str] = INDEX_SCOPES,
        lifetime_seconds: float = 3600.0,
        clock: Any = time.time,
    ) -> None:
        self._key = hs256_signing_key(secret)
        self._issuer = issuer
        self._audience = audience
        self._subject = subject
        self._scopes = list(scopes)
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    async def token(self) -> str:
        """The cached token, or a new one in its last tenth of life."""
        now = self._clock()
        if self._token is None or now >= self._expires_at - self._lifetime / 10:
            self._token = mint_token(
                self._key,
                issuer=self._issuer,
                audience=self._audience,
                subject=self._subject,
                scopes=self._scopes,
                expires_in=self._lifetime,
            )
            self._expires_at = now + self._lifetime
        return self._token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (contexts refused it)."""
        if token is None or token == self._token:
            self._token = None
