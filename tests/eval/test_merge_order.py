"""The merged results of an eval follow the dataset's own order (EchoNet: the rows of
FileList.csv), whatever order the cases were finished, stored or named in. The expected order
is the one written into FileList.csv here, not read back from the code."""

from __future__ import annotations

import csv
from types import SimpleNamespace

from samurai.distributed import DistInfo
from samurai.shard import CaseStore, run_cases

# Not sorted by name, nor by the store's file names (name + hash), nor by length.
FILE_LIST = ["0XFF01", "0X0A77", "0XC3", "0X1B22", "0XAA"]


def test_stored_cases_come_back_in_the_order_of_the_dataset(tmp_path):
    store = CaseStore(tmp_path / "run.cases")
    store.open({"model": "tiny"}, force=False)
    cases = [SimpleNamespace(case_id=c) for c in FILE_LIST]
    # An earlier run finished two of them (in another order), this run does the rest.
    for c in ("0XAA", "0X0A77"):
        store.write(c, {"case_id": c, "value": f"earlier {c}"})
    info = DistInfo(rank=0, world_size=1, local_rank=0, initialized_here=False)
    done = []

    def work(case):
        done.append(case.case_id)
        return {"case_id": case.case_id, "value": f"now {case.case_id}"}, {}

    records = run_cases(cases, [3] * len(cases), store, info, work)
    assert sorted(done) == ["0X1B22", "0XC3", "0XFF01"]
    assert [r["case_id"] for r, _ in records] == FILE_LIST
    assert [r["value"].split()[0] for r, _ in records] == ["now", "earlier", "now", "now", "earlier"]


def test_echonet_cases_are_listed_in_file_list_order(tmp_path):
    from samurai.data import open_dataset
    from samurai.data.synthetic import write_echonet

    root = write_echonet(tmp_path / "e", n_videos=3, n_frames=5, size=(32, 32))["root"]
    with (root / "FileList.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    body = [body[2], body[0], body[1]]  # a FileList in no sorted order
    assert [r[0] for r in body] != sorted(r[0] for r in body)
    with (root / "FileList.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *body])
    assert open_dataset(root, kind="echonet").case_ids == [r[0] for r in body]
