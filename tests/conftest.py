from __future__ import annotations

from pathlib import Path

import pytest

from tests.common.shared import HISTORIES


@pytest.fixture
def shared_histories() -> Path:
    if not HISTORIES.exists():
        pytest.skip("../shared/histories is not beside the project")
    return HISTORIES
