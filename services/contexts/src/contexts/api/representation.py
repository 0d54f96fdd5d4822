"""The JSON bytes of a context version, rendered straight from the domain's `Context`, once.

The routes used to build a pydantic `ContextOut` per version (validating the body again) and
dump it to a dict for orjson: ~40 us a version, 50 times per listed page. Here orjson renders
a plain dict in `ContextOut`'s field order, with the ACL sorted and datetimes as pydantic
writes them (`OPT_UTC_Z`: `Z` for UTC): the same bytes, which
tests/api/test_representation.py checks against `ContextOut` for many versions. `ContextOut`
and its siblings stay the documented schemas of the OpenAPI document.

A stored version never changes, so its bytes are kept in a bounded LRU (`RenderedVersions`),
keyed by namespace, name, version and its ETag (random per written version): a listed page
joins cached bytes instead of rendering 50 versions again. Its lookups by outcome, evictions
and bytes kept are Prometheus metrics (`contexts_render_cache_*`) on the registry it is
given, prometheus_client's global one by default, as the libs' metrics are.
"""

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any
from weakref import WeakSet

import orjson
from fastapi import Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contexts.domain.model import Context, Page
from slipway.observability.registry import MetricsPerRegistry

# Datetimes as pydantic's JSON mode writes them (the `ContextOut` field type, AwareDatetime).
_OPTIONS = orjson.OPT_UTC_Z
JSON = "application/json"
DEFAULT_MAX_BYTES = 8 * 2**20
VersionId = tuple[str, str, int, str]


def context_document(context: Context) -> dict[str, Any]:
    """`ContextOut.of(context)` as a plain dict, datetimes left for orjson to write."""
    acl = context.acl
    return {
        "namespace": context.key.namespace,
        "name": context.key.name,
        "version": context.version,
        "kind": context.kind,
        "schema_version": context.schema_version,
        "body": context.body,
        "labels": context.labels,
        "owner": context.owner,
        "acl": {"readers": sorted(acl.readers), "writers": sorted(acl.writers)},
        "deleted": context.deleted,
        "created_at": context.created_at,
        "updated_at": context.updated_at,
        "updated_by": context.updated_by,
        "etag": context.etag,
    }


def render_context(context: Context) -> bytes:
    """The JSON of `ContextOut.of(context)`, rendered without building it."""
    return orjson.dumps(context_document(context), option=_OPTIONS)


class RenderCacheCollector(Collector):
    """The rendered-versions caches' counts, summed over the live caches of one registry.

    A hit is counted as a plain `+= 1` on the cache (a prometheus_client counter increment,
    under its lock, would double the cost of a hit); the families are built at scrape time.
    """

    def __init__(self) -> None:
        self._caches: WeakSet[RenderedVersions] = WeakSet()

    def add(self, cache: "RenderedVersions") -> None:
        """Count `cache` in this registry's families while it lives."""
        self._caches.add(cache)

    def collect(self) -> Iterator[Metric]:
        """The lookups by outcome, the evictions and the bytes kept."""
        caches = list(self._caches)
        lookups = CounterMetricFamily(
            "contexts_render_cache_lookups",
            "Renderings of a stored version asked of the cache, by outcome (hit or miss).",
            labels=("outcome",),
        )
        lookups.add_metric(("hit",), sum(cache.hits for cache in caches))
        lookups.add_metric(("miss",), sum(cache.misses for cache in caches))
        yield lookups
        yield CounterMetricFamily(
            "contexts_render_cache_evictions",
            "Renderings dropped, least recently used first, to stay within the size bound.",
            value=sum(cache.evictions for cache in caches),
        )
        yield GaugeMetricFamily(
            "contexts_render_cache_bytes",
            "Bytes of rendered JSON the caches keep.",
            value=sum(cache.size for cache in caches),
        )


def _register(registry: CollectorRegistry) -> RenderCacheCollector:
    collector = RenderCacheCollector()
    registry.register(collector)
    return collector


render_cache_metrics = MetricsPerRegistry(_register)
"""The rendered-versions caches' collector on `registry` (default: the global one)."""


class RenderedVersions:
    """The rendered JSON of recently answered versions: an LRU bounded by its total size.

    A version's content never changes once written, and its ETag is drawn afresh for every
    written version, so (namespace, name, version, ETag) names one rendering for good.
    Versions larger than a 64th of `max_bytes` are rendered every time, not kept.
    """

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, *, registry: CollectorRegistry | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self._max_entry = max_bytes // 64
        self._entries: OrderedDict[VersionId, bytes] = OrderedDict()
        self.size = 0
        self.hits = self.misses = self.evictions = 0
        render_cache_metrics(registry).add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def render(self, context: Context) -> bytes:
        """The JSON of `context`, from the cache when it was rendered before."""
        key = (context.key.namespace, context.key.name, context.version, context.etag)
        entries = self._entries
        rendered = entries.get(key)
        if rendered is not None:
            entries.move_to_end(key)
            self.hits += 1
            return rendered
        self.misses += 1
        rendered = render_context(context)
        if len(rendered) <= self._max_entry:
            entries[key] = rendered
            self.size += len(rendered)
            while self.size > self.max_bytes:
                _, evicted = entries.popitem(last=False)
                self.size -= len(evicted)
                self.evictions += 1
        return rendered

    def render_items(self, contexts: Iterable[Context]) -> bytes:
        """`[...]`: the JSON array of `contexts`' renderings."""
        return b"[" + b",".join([self.render(context) for context in contexts]) + b"]"

    def render_page(self, page: Page) -> bytes:
        """The JSON of `ContextPage.of(page)`."""
        cursor = orjson.dumps(page.next_cursor)
        return b'{"items":' + self.render_items(page.items) + b',"next_cursor":' + cursor + b"}"

    def render_versions(self, versions: Iterable[Context]) -> bytes:
        """The JSON of a `VersionList` of `versions`."""
        return b'{"items":' + self.render_items(versions) + b"}"


def json_response(
    content: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """An `application/json` response of already rendered `content`."""
    return Response(content, status_code=status, headers=headers, media_type=JSON)
