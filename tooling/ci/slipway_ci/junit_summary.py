"""Sum the JUnit XML reports Pants writes (`test --test-report`) into one closing line.

Usage: python -m slipway_ci.junit_summary REPORT_DIR  ->  "tests: 812 passed, 0 failed, 3 skipped"
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Counts:
    """Test cases by outcome; errors count as failures."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped
        )

    def line(self) -> str:
        """The closing line CI prints."""
        return f"tests: {self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def suite_counts(suite: ET.Element) -> Counts:
    """The counts of one <testsuite> element."""
    total = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return Counts(total - failed - skipped, failed, skipped)


def report_counts(path: Path) -> Counts:
    """The counts of one JUnit XML file (a <testsuite> or a <testsuites> root)."""
    root = ET.parse(path).getroot()  # noqa: S314 - reports Pants just wrote, not untrusted input
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    return sum((suite_counts(suite) for suite in suites), Counts())


def summarize(paths: Iterable[Path]) -> Counts:
    """The counts of every report in `paths`."""
    return sum((report_counts(path) for path in paths), Counts())


def main(argv: list[str]) -> int:
    """Print the closing line for the reports under argv[0]; exit 2 on bad usage."""
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m slipway_ci.junit_summary REPORT_DIR", file=sys.stderr)
        return 2
    print(summarize(sorted(Path(argv[0]).rglob("*.xml"))).line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
