"""pytest plugin: every case of every ``*.tests.toml`` file is a test item.

The repository's pytest configuration loads it (``-p callguard.statute_plugin``), so
``pytest`` collects the shipped files under ``callguard/data/jurisdictions`` (a testpath; in
an installed copy ``callguard.resources.packs_dir()``) and any
cases file named on the command line. A compliance office runs its own cases, kept apart,
from anywhere callguard is installed:
``python -m pytest -p callguard.statute_plugin path/to/their.tests.toml`` (``packs_dir``
in the file points at the packs to judge; default: the file's own directory). Imported by
pytest only (pytest is a test dependency). Model: OpenFisca's YAML test runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callguard.case_files import CASES_SUFFIX, read_suite
from callguard.errors import ConfigError
from callguard.policy.cases import CaseSuite, StatuteCase, run_case

__all__ = ["StatuteFile", "StatuteItem", "pytest_collect_file"]


class StatuteCaseFailure(Exception):
    """A case whose verdict differs from what the words require."""


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``*.tests.toml`` files."""
    if file_path.name.endswith(CASES_SUFFIX):
        return StatuteFile.from_parent(parent, path=file_path)
    return None


class StatuteFile(pytest.File):
    """One cases file."""

    def collect(self) -> Iterator[pytest.Item]:
        """One item per case; a file that does not check is a collection error."""
        try:
            suite = read_suite(self.path)
        except ConfigError as exc:
            raise self.CollectError(f"{self.path}: {exc}") from None
        for case in suite.cases:
            yield StatuteItem.from_parent(self, name=case.name, suite=suite, case=case)


class StatuteItem(pytest.Item):
    """One statute situation."""

    def __init__(self, *, suite: CaseSuite, case: StatuteCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.case = case

    def runtest(self) -> None:
        """Decide the case; fail with every difference."""
        result = run_case(self.suite, self.case)
        if not result.passed:
            verdict = result.verdict
            lines = [*result.problems, f"words: {self.case.words}",
                     f"verdict: {verdict.verdict} — {verdict.reason}"]
            lines += [f"  {o.rule_id}: {o.status.value} — {o.reason}" for o in verdict.outcomes]
            raise StatuteCaseFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        """The differences, not a traceback."""
        if isinstance(excinfo.value, StatuteCaseFailure):
            return f"statute case {self.name!r}:\n{excinfo.value}"
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the case lives."""
        return self.path, None, f"statute case: {self.name}"
