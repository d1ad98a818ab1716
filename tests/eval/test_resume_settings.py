"""An eval resumed from ``OUT.cases/`` only with the settings its finished cases were made
with: a setting that appeared since the earlier run (an option added, a new default recorded)
is a difference like any other."""

from __future__ import annotations

import pytest

from samurai.errors import UserError as CLIError
from samurai.shard import CaseStore

EARLIER = {"model": "tiny", "image_size": 256, "methods": ["vanilla", "samurai"]}


def _store_with_one_case(tmp_path):
    store = CaseStore(tmp_path / "run.cases")
    store.open(EARLIER, force=False)
    store.write("case1", {"case_id": "case1", "rows": []})
    return store


@pytest.mark.parametrize("gained", [{"noise": "noise.json"}, {"prompt": "box"}, {"frame_batch": 8}])
def test_a_setting_gained_since_the_earlier_run_is_refused_by_name(tmp_path, gained):
    store = _store_with_one_case(tmp_path)
    ((key, value),) = gained.items()
    with pytest.raises(CLIError, match=rf"{key} \(was None, now {value!r}\).*--force"):
        store.open({**EARLIER, **gained}, force=False)
    assert store.finished() == {"case1"}  # nothing discarded


def test_a_setting_lost_since_the_earlier_run_is_refused(tmp_path):
    store = _store_with_one_case(tmp_path)
    with pytest.raises(CLIError, match=r"methods \(was \['vanilla', 'samurai'\], now None\)"):
        store.open({"model": "tiny", "image_size": 256}, force=False)


def test_a_setting_gained_with_the_value_none_is_refused(tmp_path):
    store = _store_with_one_case(tmp_path)
    with pytest.raises(CLIError, match="motion_model"):
        store.open({**EARLIER, "motion_model": None}, force=False)


def test_the_same_settings_resume(tmp_path):
    store = _store_with_one_case(tmp_path)
    assert store.open(dict(EARLIER), force=False) == 1
