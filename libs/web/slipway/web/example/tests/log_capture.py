"""Reading back the JSON lines slipway.logging wrote to an in-memory stream."""

import io
import json
from typing import Any


class CapturedLogs:
    """JSON log lines written through slipway.logging to an in-memory stream."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[dict[str, Any]]:
        """Every line written so far, parsed."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]
