"""`Service`: a service's one entry point: build its app, serve it, export its OpenAPI document.

A stamped service's `main.py` is a `Service` and two lines to run it; `openapi.py` and the
test plugin (`slipway.web.testing`) take the same object, so every service starts, fails on
bad configuration and writes its contract the same way.
"""

import argparse
import difflib
import functools
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Generic, TypeVar

from fastapi import FastAPI

from slipway.config import ConfigError, Environment, ServiceSettings, env_var_name, load_settings
from slipway.logging import configure_logging
from slipway.web.app import create_app
from slipway.web.multiprocess import single_process_problems
from slipway.web.parts import ServiceParts
from slipway.web.server import serve
from slipway.web.settings import WebSettings
from slipway.web.workers import serve_workers

S = TypeVar("S", bound=ServiceSettings)

CONTRACT_FILE = "openapi.json"


def render_openapi(document: dict[str, Any]) -> str:
    """The document as committed: indented, keys in the app's order, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def contract_diff(committed: str, generated: str, path: Path | str, *, limit: int = 40) -> str:
    """A unified diff from the committed document to the generated one, at most `limit` lines."""
    lines = list(
        difflib.unified_diff(
            committed.splitlines(),
            generated.splitlines(),
            fromfile=f"{path} (committed)",
            tofile="the app",
            lineterm="",
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more diff lines"]
    return "\n".join(lines)


def package_description(package: ModuleType) -> str:
    """The package docstring's second paragraph (its first if only one), on one line."""
    return " ".join((package.__doc__ or "").split("\n\n", 1)[-1].split())


class Service(Generic[S]):
    """A service: its settings class, its composition root and what its API is called.

    `compose(settings)` returns the service's `ServiceParts`; `package` (the module or its
    name) supplies the API description from its docstring unless `description` is given, and
    locates the service's directory (`root`, holding the committed `openapi.json`) unless
    `root` is given (relative paths are from the repository root).
    """

    def __init__(
        self,
        settings_type: type[S],
        compose: Callable[[S], ServiceParts],
        *,
        title: str,
        package: ModuleType | str,
        description: str | None = None,
        root: Path | str | None = None,
    ) -> None:
        self.settings_type = settings_type
        self.compose = compose
        self.title = title
        self.package = importlib.import_module(package) if isinstance(package, str) else package
        self.description = package_description(self.package) if description is None else description
        self._root = None if root is None else Path(root)

    def __repr__(self) -> str:
        return f"Service({self.settings_type.__name__}, title={self.title!r})"

    def load_settings(self) -> S:
        """The settings from the environment; raises `slipway.config.ConfigError`."""
        return load_settings(self.settings_type)

    def openapi_settings(self) -> S:
        """The settings the committed contract is generated with: defaults, `test` environment."""
        return self.settings_type(environment=Environment.TEST)

    def build_app(self, settings: S | None = None) -> FastAPI:
        """The service's app on `create_app`; settings are loaded from the environment if None."""
        settings = self.load_settings() if settings is None else settings
        return create_app(
            settings, self.compose(settings), title=self.title, description=self.description
        )

    def configure_logging(self, settings: S) -> None:
        """Logging as `settings` ask for it (JSON or console, level), for this process."""
        configure_logging(
            service=settings.service_name,
            version=settings.version,
            environment=settings.environment.value,
            level=settings.log_level,
            renderer=settings.log_renderer,
        )

    def main(self) -> int:
        """Load settings, configure logging, serve until SIGTERM/SIGINT; exit 2 on bad config.

        With `web.workers > 1` the app is built in each of that many worker processes
        (`slipway.web.workers`) after the parts are checked here: a part that keeps its state
        in one process (`slipway.web.multiprocess`) is a configuration error.
        """
        try:
            settings = self.load_settings()
            self.configure_logging(settings)
            web = _web_of(settings)
            if web.workers > 1:
                self.check_multiprocess(settings, web)
            else:
                app = self.build_app(settings)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        if web.workers > 1:
            return serve_workers(functools.partial(_worker_app, self), web)
        serve(app)
        return 0

    def check_multiprocess(self, settings: S, web: WebSettings) -> None:
        """Raise `ConfigError` if `compose(settings)` cannot serve from `web.workers` processes."""
        problems = single_process_problems(
            self.compose(settings),
            web,
            workers_variable=env_var_name(self.settings_type, "web", "workers"),
            rate_limit_variable=env_var_name(self.settings_type, "web", "rate_limit", "enabled"),
        )
        if problems:
            raise ConfigError(self.settings_type, problems)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable for the worker processes: the package by name."""
        return {**self.__dict__, "package": self.package.__name__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Re-import the package in the worker."""
        self.__dict__.update(state, package=importlib.import_module(state["package"]))

    @property
    def root(self) -> Path:
        """The service's directory: `services/<name>` holding `src/<package>/`.

        The `root` given, else found from the package's files when they are imported from
        the source tree (tests, `python -m`), else `services/<title>` relative to the
        repository root (a pex run by `./pants run` executes there, its sources unpacked
        elsewhere).
        """
        if self._root is not None:
            return self._root
        package_dir = Path(self.package.__file__ or "").resolve().parent
        if package_dir.parent.name == "src":
            return package_dir.parent.parent
        return Path("services", self.title)

    @property
    def contract_path(self) -> Path:
        """The committed OpenAPI document, `openapi.json` at the service's root."""
        return self.root / CONTRACT_FILE

    @property
    def regenerate_command(self) -> str:
        """The command that rewrites the committed contract from the app."""
        root = self.root.resolve()
        cwd = Path.cwd().resolve()
        where = root.relative_to(cwd) if root.is_relative_to(cwd) else self.root
        return f"./pants run {where.as_posix()}:openapi"

    def openapi(self, settings: S | None = None) -> dict[str, Any]:
        """The OpenAPI document the app serves at /openapi.json (`openapi_settings` if None)."""
        app = self.build_app(self.openapi_settings() if settings is None else settings)
        document: dict[str, Any] = app.openapi()
        return document

    def export_openapi(self, argv: Sequence[str] | None = None) -> int:
        """Write the OpenAPI document (`-` prints it); `--check` exits 1 if the file is stale."""
        parser = argparse.ArgumentParser(
            prog=f"{self.title}-openapi",
            description=f"Write the OpenAPI document of {self.title}, the committed contract.",
        )
        parser.add_argument(
            "path",
            nargs="?",
            type=Path,
            help=f"where to write it, '-' for stdout (default: {self.contract_path})",
        )
        parser.add_argument(
            "--check", action="store_true", help="exit 1 when the file differs from the app"
        )
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
        target: Path = args.path or self.contract_path
        if args.path is None and not target.parent.is_dir():
            print(f"{target.parent} not found: run from the repository root", file=sys.stderr)
            return 2
        rendered = render_openapi(self.openapi())
        if str(target) == "-":
            sys.stdout.write(rendered)
            return 0
        if args.check:
            return self._check(target, rendered)
        target.write_text(rendered, encoding="utf-8")
        print(f"wrote {target}")
        return 0

    def _check(self, target: Path, rendered: str) -> int:
        committed = target.read_text(encoding="utf-8") if target.is_file() else ""
        if committed == rendered:
            print(f"{target} is up to date")
            return 0
        print(contract_diff(committed, rendered, target), file=sys.stderr)
        print(f"{target} is stale: run {self.regenerate_command} and commit it", file=sys.stderr)
        return 1


def _web_of(settings: ServiceSettings) -> WebSettings:
    nested = getattr(settings, "web", None)
    return nested if isinstance(nested, WebSettings) else WebSettings()


def _worker_app(service: "Service[Any]") -> FastAPI:
    """In a worker process: its own settings, logging and app (pools open in its lifespan)."""
    settings = service.load_settings()
    service.configure_logging(settings)
    return service.build_app(settings)
