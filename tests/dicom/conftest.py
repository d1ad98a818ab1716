import shutil

import pytest

pytest.importorskip("pydicom")


@pytest.fixture
def need_tool():
    """Skip where a Debian tool the test checks against is missing (.ci/run installs it)."""

    def need(name: str):
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed (apt-get install dcmtk dicom3tools)")

    return need
