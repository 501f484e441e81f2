from __future__ import annotations

from pathlib import Path

import pytest

from harness.history.errors import HistoryError
from harness.history.importers import detect_format, load_history
from tests.common.shared import HISTORIES


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("porcupine-etcd/etcd_000.log", "porcupine-etcd"),
        ("porcupine-kv/c01-ok.txt", "porcupine-kv"),
        ("jepsen-edn/cas-failure.edn", "jepsen-edn"),
    ],
)
def test_detects_formats(name: str, fmt: str, shared_histories: Path) -> None:
    assert detect_format(str(shared_histories / name)) == fmt


def test_porcupine_etcd_semantics(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_text(
        "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 1\t:invoke\t:write\t3\n"
        "INFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n"
        "INFO  jepsen.util - 2\t:fail\t:read\t:timed-out\n"
        "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 3\t:ok\t:read\tnil\n"
    )
    h = load_history(str(p))
    by_id = {o.id: o for o in h.ops}
    assert by_id[0].output == {"ok": False} and by_id[0].status == "ok"
    assert by_id[1].status == "unknown"
    assert by_id[2].status == "fail"
    assert by_id[3].output == {"value": None}


def test_jepsen_edn_semantics_and_nemesis(tmp_path: Path) -> None:
    p = tmp_path / "x.edn"
    p.write_text(
        "[{:process 0, :type :invoke, :f :cas, :value [1 2]}\n"
        " {:process :nemesis, :type :info, :f :start, :value nil}\n"
        " {:process 0, :type :fail, :f :cas, :value [1 2]}\n"
        " {:process 1, :type :invoke, :f :read, :value nil}\n"
        " {:process 1, :type :ok, :f :read, :value nil}\n"
        " {:process :nemesis, :type :info, :f :stop, :value nil}\n"
        " {:process 2, :type :invoke, :f :write, :value 4}]\n"
    )
    h = load_history(str(p))
    assert [o.status for o in h.ops] == ["fail", "fail", "unknown"]
    assert [f.phase for f in h.faults] == ["start", "end"]
    assert h.header.model_options == {"initial": 0}


@pytest.mark.parametrize(
    "fmt, body, reason",
    [
        ("porcupine-etcd", "INFO  jepsen.util - 0\t:ok\t:read\t1\n", "without a pending invoke"),
        (
            "porcupine-etcd",
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n",
            "while its call",
        ),
        ("porcupine-etcd", "INFO  jepsen.util - 0\t:invoke\t:cas\t[1\n", "cannot parse value"),
        ("porcupine-etcd", "hello\n", "not a jepsen.util event line"),
        ("porcupine-kv", '{:process 0, :type :invoke, :f :get, :key "1"}\n{:process 0 :type\n', "line 2|:2:"),
        ("jepsen-edn", "[{:process 0, :type :invoke", "not valid EDN"),
        ("jepsen-edn", "[{:process 0, :type :ok, :f :read, :value 1}]", "without a pending invoke"),
        (
            "jepsen-edn",
            "[{:process 0, :type :invoke, :f :frobnicate, :value 1} {:process 0, :type :ok, :f :frobnicate, :value 1}]",
            "unknown register operation",
        ),
    ],
)
def test_bad_input_names_file_and_reason(tmp_path: Path, fmt: str, body: str, reason: str) -> None:
    p = tmp_path / "bad"
    p.write_text(body)
    with pytest.raises(HistoryError, match=reason) as exc:
        load_history(str(p), fmt)
    assert str(p) in str(exc.value)


def test_every_shared_file_imports(shared_histories: Path) -> None:
    for f in sorted(shared_histories.glob("*/*")):
        h = load_history(str(f))
        assert h.ops, f
    assert HISTORIES.exists()
