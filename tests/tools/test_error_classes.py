"""tools/error_classes.py on invented lines in the benchmark scorers' --verbose format: each
line lands in the class `eventfeed eval --errors` gives it (no benchmark text is used)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parents[1]


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "error_classes", ROOT / "tools" / "error_classes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DUEE = """\
[d1] 北辰科技拟收购星河智能
  matched 企业收购->acquisition: actors 1/2 missed ['星河智能'] among ['北辰科技'] amount WRONG (gold 1,000,000, predicted 10000000.0)
  MISSED 质押->other actors ['北辰科技', '南山投资']
  EXTRA  acquisition actors ['北辰科技', '南山投资'] amount_usd None
[d2] 无事件
  EXTRA  funding actors ['东海银行'] amount_usd None
[d3] 两次中标
  matched 中标->partnership: actors 0/2 missed ['甲公司', '乙公司'] among ['丙公司']
  MISSED 中标->partnership actors ['甲公司']

duee-fin: type_F1=0.500 actor_recall=0.250 amount_acc=0.000
"""

REUTERS = """\
[1] NORTHWIND TO BUY CONTOSO
  predicted: acquisition ['Northwind'] 54.0; market_move ['Contoso'] None
  purchaser +Northwind Traders Inc | acquired -Contoso Corp | amount WRONG (gold 12.5 mln dlrs, predicted 54.0)
[2] FABRIKAM STAKE
  predicted: funding ['Fabrikam', 'Tailspin'] 3000000.0
  purchaser -Tailspin Toys | acquired -Fabrikam Inc
[3] LITWARE
  predicted: (no events)
  acquired -Litware Corp
[4] ADATUM
  predicted: acquisition ['Adatum'] None; acquisition ['Adatum'] None; other ['Proseware'] None
  purchaser +Adatum Corp | acquired -Woodgrove Bank; -Woodgrove Trust

reuters-acq: acq_recall=0.333 purchaser=0.500 acquired=0.000 amount_acc=0.000
"""


def test_duee_classes() -> None:
    counts, info, confusion = _tool().duee(DUEE.splitlines())
    assert dict(counts) == {
        "amount, ×10ⁿ": 1,  # 10 million for 1 million
        "missed, type": 1,  # the pledge's parties named by the acquisition
        "false alarm, type": 1,
        "false alarm, extra": 1,  # a document without gold events
        "missed, actors": 1,  # d3's pair names none of its two
        "missed, selection": 1,  # d3's second bid: its type is paired already
    }
    assert dict(confusion) == {"质押(other)->acquisition": 1}
    assert info["selection misses of a paired type"] == 1
    assert info["extra predictions in documents without gold"] == 1
    assert (info["gold actors"], info["gold actors found"]) == (4, 1)


def test_reuters_classes() -> None:
    counts, info, confusion = _tool().reuters(REUTERS.splitlines())
    assert dict(counts) == {
        "amount, per-unit": 1,  # $54 for $12.5 million: a share price
        "false alarm, type": 2,  # market_move naming 1 of 2 parties (half); the funding
        "missed, type": 1,  # the stake read as funding, naming both
        "missed, selection": 1,  # nothing predicted
        "missed, actors": 1,  # 1 of 3 parties named
        "false alarm, duplicate": 1,  # a second acquisition
        "false alarm, extra": 1,  # names none of the parties
    }
    assert dict(confusion) == {"acquisition->funding": 1}
    assert (info["acquired names"], info["acquired names missed"]) == (5, 5)
