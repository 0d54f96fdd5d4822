"""An opt-in readiness check that probes an upstream through its ResilientClient."""

from slipway.http.client import ResilientClient
from slipway.http.errors import UpstreamStatusError
from slipway.http.upstreams import host_of


class UpstreamReadinessCheck:
    """A slipway.web ReadinessCheck: healthy while GET `path` answers below 400.

    Opt-in only: making readiness depend on an upstream takes every replica out of the load
    balancer when that upstream fails, so use it for dependencies the service cannot work
    without at all.
    """

    def __init__(self, client: ResilientClient, path: str = "/health") -> None:
        self.name = f"{client.name}:{path}"
        self._client = client
        self._path = path

    async def __call__(self) -> None:
        """Probe the upstream; raise an UpstreamError when it is not healthy."""
        response = await self._client.get(self._path)
        if response.status_code >= 400:
            raise UpstreamStatusError(response, host=host_of(response.request.url))
