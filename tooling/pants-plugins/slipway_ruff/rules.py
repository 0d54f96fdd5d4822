"""Rules running ruff for `lint` and `fix` (`ruff check`) and `fmt` (`ruff format`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pants.backend.python.util_rules import pex
from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.core.goals.fix import FixResult, FixTargetsRequest
from pants.core.goals.fmt import FmtResult, FmtTargetsRequest
from pants.core.goals.lint import LintResult, LintTargetsRequest
from pants.core.util_rules import config_files, source_files
from pants.core.util_rules.config_files import ConfigFiles, ConfigFilesRequest
from pants.core.util_rules.partitions import PartitionerType
from pants.core.util_rules.source_files import SourceFiles, SourceFilesRequest
from pants.engine.fs import Digest, MergeDigests, Snapshot
from pants.engine.process import FallibleProcessResult, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel
from pants.util.strutil import pluralize

from slipway_ruff.subsystems import (
    RuffCheck,
    RuffCheckFieldSet,
    RuffFormat,
    RuffFormatFieldSet,
    RuffToolBase,
)

# Pants passes explicit file names: --force-exclude keeps ruff's `exclude` settings in force.
# The sandbox is thrown away, so a .ruff_cache written there would be wasted work.
COMMON_ARGS = ("--force-exclude", "--no-cache")


class RuffCheckLintRequest(LintTargetsRequest):
    field_set_type = RuffCheckFieldSet
    tool_subsystem = RuffCheck
    partitioner_type = PartitionerType.DEFAULT_SINGLE_PARTITION


class RuffCheckFixRequest(FixTargetsRequest):
    field_set_type = RuffCheckFieldSet
    tool_subsystem = RuffCheck
    partitioner_type = PartitionerType.DEFAULT_SINGLE_PARTITION

    # Distinct from the lint request's name, so the two show apart in `lint`'s summary.
    tool_name = "ruff check --fix"


class RuffFormatRequest(FmtTargetsRequest):
    field_set_type = RuffFormatFieldSet
    tool_subsystem = RuffFormat
    partitioner_type = PartitionerType.DEFAULT_SINGLE_PARTITION


def ruff_check_argv(ruff_check: RuffCheck, files: Iterable[str], *, fix: bool) -> tuple[str, ...]:
    # With --fix, violations left over are `lint`'s business, not a failure of `fix`:
    # --exit-zero keeps exit code 1 for those out while errors (exit code 2) still fail.
    mode = ("--fix", "--exit-zero") if fix else ()
    return (
        "check",
        *mode,
        *COMMON_ARGS,
        *ruff_check.config_args,
        *ruff_check.args,
        *files,
    )


def ruff_format_argv(ruff_format: RuffFormat, files: Iterable[str]) -> tuple[str, ...]:
    return ("format", *COMMON_ARGS, *ruff_format.config_args, *ruff_format.args, *files)


@dataclass(frozen=True)
class _RuffSandbox:
    """A ruff pex, and the files to process merged with ruff's config files."""

    pex: VenvPex
    input_digest: Digest


async def _ruff_sandbox(snapshot: Snapshot, subsystem: RuffToolBase) -> _RuffSandbox:
    ruff_pex, config = await MultiGet(
        Get(VenvPex, PexRequest, subsystem.to_pex_request()),
        Get(ConfigFiles, ConfigFilesRequest, subsystem.config_request(snapshot.dirs)),
    )
    input_digest = await Get(Digest, MergeDigests((snapshot.digest, config.snapshot.digest)))
    return _RuffSandbox(ruff_pex, input_digest)


# Pants creates a distinct `Batch` type per request subclass at runtime, which mypy cannot see
# (Pants is untyped to it): hence the `name-defined` ignores on the rules below.


@rule(desc="Lint with ruff check", level=LogLevel.DEBUG)
async def ruff_check_lint(request: RuffCheckLintRequest.Batch, ruff_check: RuffCheck) -> LintResult:  # type: ignore[name-defined]
    sources = await Get(
        SourceFiles, SourceFilesRequest(field_set.source for field_set in request.elements)
    )
    files = sources.snapshot.files
    sandbox = await _ruff_sandbox(sources.snapshot, ruff_check)
    result = await Get(
        FallibleProcessResult,
        VenvPexProcess(
            sandbox.pex,
            argv=ruff_check_argv(ruff_check, files, fix=False),
            input_digest=sandbox.input_digest,
            description=f"Run ruff check on {pluralize(len(files), 'file')}.",
            level=LogLevel.DEBUG,
        ),
    )
    return LintResult.create(request, result, strip_chroot_path=True)


@rule(desc="Fix with ruff check --fix", level=LogLevel.DEBUG)
async def ruff_check_fix(request: RuffCheckFixRequest.Batch, ruff_check: RuffCheck) -> FixResult:  # type: ignore[name-defined]
    sandbox = await _ruff_sandbox(request.snapshot, ruff_check)
    result = await Get(
        ProcessResult,
        VenvPexProcess(
            sandbox.pex,
            argv=ruff_check_argv(ruff_check, request.files, fix=True),
            input_digest=sandbox.input_digest,
            output_files=request.files,
            description=f"Run ruff check --fix on {pluralize(len(request.files), 'file')}.",
            level=LogLevel.DEBUG,
        ),
    )
    return await FixResult.create(request, result, strip_chroot_path=True)


@rule(desc="Format with ruff format", level=LogLevel.DEBUG)
async def ruff_format_fmt(request: RuffFormatRequest.Batch, ruff_format: RuffFormat) -> FmtResult:  # type: ignore[name-defined]
    sandbox = await _ruff_sandbox(request.snapshot, ruff_format)
    result = await Get(
        ProcessResult,
        VenvPexProcess(
            sandbox.pex,
            argv=ruff_format_argv(ruff_format, request.files),
            input_digest=sandbox.input_digest,
            output_files=request.files,
            description=f"Run ruff format on {pluralize(len(request.files), 'file')}.",
            level=LogLevel.DEBUG,
        ),
    )
    return await FmtResult.create(request, result, strip_chroot_path=True)


def rules() -> Iterable[Any]:
    return [
        *collect_rules(),
        *RuffCheckLintRequest.rules(),
        *RuffCheckFixRequest.rules(),
        *RuffFormatRequest.rules(),
        *config_files.rules(),
        *source_files.rules(),
        *pex.rules(),
    ]
