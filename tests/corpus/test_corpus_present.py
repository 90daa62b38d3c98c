"""The corpus tests skip only where ../shared/corpus is absent, and say so; on CI (the CI variable set, as CI
services set it) its absence is a failure, not 31 silent skips."""

import os

import pytest

from testkit.corpus import CASES, CORPUS_DIR, corpus_path


def test_the_corpus_is_there_when_ci_runs():
    if not CORPUS_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI={os.environ['CI']} but the QONNX corpus is not at {CORPUS_DIR}: its tests would all skip")
        pytest.skip(f"the QONNX corpus is not at {CORPUS_DIR} (CI must have it)")
    missing = [c.file for c in CASES if not corpus_path(c).is_file()]
    assert missing == [], f"corpus files named in tests/testkit/corpus.py but absent from {CORPUS_DIR}"
