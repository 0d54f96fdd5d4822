"""One logging pipeline for structlog, the stdlib and uvicorn: configure it, get loggers."""

import asyncio
import logging
import sys
from typing import Any, Literal, TextIO
from weakref import WeakKeyDictionary

import structlog
from structlog.typing import EventDict, Processor

from slipway.logging.fields import StandardFields, foreign_record_fields
from slipway.logging.redaction import redact_event
from slipway.logging.rendering import console_renderer, render_json

Renderer = Literal["json", "console"]
HANDLER_NAME = "slipway"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


# The formatters `build_formatter` made for JSON lines, with their processors as built and their
# StandardFields: what `PipelineHandler.json_fields` recognises for the access line's fast path.
_JSON_PIPELINES: "WeakKeyDictionary[logging.Formatter, tuple[list[Processor], StandardFields]]" = (
    WeakKeyDictionary()
)

_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class LevelCheckingBoundLogger(structlog.stdlib.BoundLogger):
    """A stdlib BoundLogger that drops disabled levels before running any processor.

    The check reads the stdlib logger's level on every call, so a later change of level
    reaches loggers that structlog has already cached.
    """

    def _proxy_to_logger(
        self, method_name: str, event: str | None = None, *event_args: str, **event_kw: Any
    ) -> Any:
        if not self._logger.isEnabledFor(_METHOD_LEVELS.get(method_name, logging.CRITICAL)):
            return None
        return super()._proxy_to_logger(method_name, event, *event_args, **event_kw)


class PipelineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler of the pipeline: a StreamHandler that can also skip the LogRecord.

    `emit_event` runs a ready-made event dict through the same processors its
    `ProcessorFormatter` applies to records (redaction, standard fields, renderer) and
    writes the line to the same stream, under the same lock: what the per-request access
    log uses, without a LogRecord, `%`-formatting or the formatter's record bookkeeping.
    """

    _flush_loop: asyncio.AbstractEventLoop | None = None
    # The last formatter `json_fields` recognised, with its processors and fields: asked once
    # per access line, so the weak-dictionary lookup is done once per formatter.
    _json_known: tuple[logging.Formatter, list[Processor], StandardFields] | None = None

    def json_fields(self) -> StandardFields | None:
        """The standard fields of the JSON pipeline `build_formatter` made, when this handler
        still formats with it unchanged; None for the console renderer or any other formatter.
        """
        formatter = self.formatter
        if formatter is None:
            return None
        known = self._json_known
        if known is not None and known[0] is formatter:
            processors, fields = known[1], known[2]
        else:
            pipeline = _JSON_PIPELINES.get(formatter)
            if pipeline is None or not isinstance(formatter, structlog.stdlib.ProcessorFormatter):
                return None
            processors, fields = pipeline
            self._json_known = (formatter, processors, fields)
        # Compared every time: the formatter's processor list can be changed in place.
        return fields if formatter.processors == processors else None  # type: ignore[attr-defined]

    def write_line(self, line: str) -> None:
        """Write a rendered line to the stream under the lock; flush once per event-loop tick.

        Outside a running event loop the line is flushed at once. Lines written in one tick
        go out with one flush (one write syscall) when the loop next runs its callbacks; any
        other record's `emit`, `flush()` and `logging.shutdown()` at exit flush them too, in
        order, as they share the stream's buffer.
        """
        try:
            # `with self.lock` but half the cost (~1 kIr): an RLock's `__enter__`/`__exit__`
            # are `acquire`/`release`, and `with` adds special-method lookups and the
            # three-argument exit call.
            lock = self.lock
            lock.acquire()  # type: ignore[union-attr]  # created in Handler.__init__
            try:
                self.stream.write(line + self.terminator)
            finally:
                lock.release()  # type: ignore[union-attr]
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            if self._flush_loop is not loop:
                self._flush_loop = loop
                loop.call_soon(self._flush_tick, loop)
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": line, "levelname": "info"}))

    def _flush_tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flush_loop is loop:
            self._flush_loop = None
        try:
            self.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "flush", "levelname": "error"}))

    def emit_event(self, method: str, event_dict: EventDict) -> None:
        """Render `event_dict` (level `method`, e.g. "info") and write it as one line."""
        formatter = self.formatter
        if not isinstance(formatter, structlog.stdlib.ProcessorFormatter):
            raise TypeError("PipelineHandler needs a structlog ProcessorFormatter")
        try:
            rendered: Any = event_dict
            for processor in formatter.processors:
                rendered = processor(None, method, rendered)
            line = f"{rendered}{self.terminator}"
            with self.lock:  # type: ignore[union-attr]  # created in Handler.__init__
                self.stream.write(line)
                self.stream.flush()
        except Exception:
            self.handleError(
                logging.makeLogRecord({"msg": event_dict.get("event"), "levelname": method})
            )


def pipeline_handler() -> PipelineHandler | None:
    """The pipeline's handler on the root logger, or None when logging is set up otherwise."""
    for handler in logging.root.handlers:
        if isinstance(handler, PipelineHandler):
            return handler
    return None


def _configure_structlog() -> None:
    # structlog only packs the event for the stdlib; the handler's formatter does the rest,
    # so this never changes and loggers can be cached on first use.
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=LevelCheckingBoundLogger,
        cache_logger_on_first_use=True,
    )


def build_formatter(
    *,
    service: str,
    version: str,
    environment: str,
    renderer: Renderer = "json",
    colors: bool = False,
) -> structlog.stdlib.ProcessorFormatter:
    """The stdlib formatter that renders structlog events and foreign records alike."""
    for_humans = renderer == "console"
    fields = StandardFields(
        service=service, version=version, environment=environment, for_humans=for_humans
    )
    final: list[Processor] = (
        [console_renderer(colors=colors)]
        if for_humans
        else [structlog.processors.format_exc_info, render_json]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ExtraAdder(),
            foreign_record_fields,
        ],
        processors=[redact_event, fields, *final],
        pass_foreign_args=True,
    )
    if not for_humans:
        _JSON_PIPELINES[formatter] = (list(formatter.processors), fields)
    return formatter


def configured_formatter(**options: Any) -> structlog.stdlib.ProcessorFormatter:
    """`build_formatter` that also configures structlog: the factory `logging.config` calls."""
    _configure_structlog()
    return build_formatter(**options)


def configure_logging(
    *,
    service: str,
    version: str,
    environment: str,
    level: str = "INFO",
    renderer: Renderer = "json",
    stream: TextIO | None = None,
) -> None:
    """Route structlog, stdlib and uvicorn logs through one pipeline to `stream` (stdout).

    Idempotent: calling it again replaces the previous handler instead of adding one.
    """
    _configure_structlog()
    output = stream if stream is not None else sys.stdout
    handler = PipelineHandler(output)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        build_formatter(
            service=service,
            version=version,
            environment=environment,
            renderer=renderer,
            colors=renderer == "console" and output.isatty(),
        )
    )
    root = logging.getLogger()
    for existing in root.handlers[:]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    logging.captureWarnings(True)


def configured_stream() -> TextIO | None:
    """The open stream a previous `configure_logging` sends logs to, or None."""
    handler = pipeline_handler()
    if handler is None or getattr(handler.stream, "closed", False):
        return None
    stream: TextIO = handler.stream
    return stream


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (default: the calling module)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def uvicorn_log_config(
    *,
    service: str,
    version: str,
    environment: str,
    level: str = "INFO",
    renderer: Renderer = "json",
) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict for `uvicorn.run(log_config=...)` with this pipeline."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            HANDLER_NAME: {
                "()": f"{__name__}.configured_formatter",
                "service": service,
                "version": version,
                "environment": environment,
                "renderer": renderer,
                "colors": renderer == "console" and sys.stdout.isatty(),
            }
        },
        "handlers": {
            HANDLER_NAME: {
                "class": f"{__name__}.PipelineHandler",
                "formatter": HANDLER_NAME,
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": "NOTSET"} for name in UVICORN_LOGGERS
        },
        "root": {"level": level.upper(), "handlers": [HANDLER_NAME]},
    }
