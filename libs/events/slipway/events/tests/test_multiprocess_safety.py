"""Several worker processes refuse the in-process event stream (slipway.web.multiprocess)."""

from slipway.events.memory_stream import InMemoryEventStream
from slipway.web.multiprocess import single_process_advice


def test_the_in_memory_stream_is_refused_with_several_workers() -> None:
    advice = single_process_advice(InMemoryEventStream())
    assert advice is not None
    assert "Redis" in advice
