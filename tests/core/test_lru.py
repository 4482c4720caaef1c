"""The LRU map behind the entry cache and the article memo."""

from __future__ import annotations

from bot.core.lru import Lru


def test_the_least_recently_used_goes_first() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # now "b" is the oldest
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c"), len(lru)) == (1, None, 3, 2)


def test_holding_keeps_more_within_the_block_then_shrinks_back() -> None:
    lru: Lru[int, int] = Lru(2)
    with lru.holding(5):
        for n in range(5):
            lru.put(n, n)
        assert len(lru) == 5
    assert len(lru) == 2 and lru.size == 2
    assert [lru.get(n) for n in range(5)] == [None, None, None, 3, 4]


def test_weighed_values_stay_within_their_total() -> None:
    lru: Lru[str, bytes] = Lru(100, weigh=len, max_weight=10)
    for n in range(20):
        lru.put(f"k{n}", b"x" * 4)
        assert lru.weight <= 10
    assert len(lru) == 2 and lru.weight == 8
    lru.put("k19", b"y")  # replacing a value counts only the new one
    assert lru.weight == 5
    lru.put("huge", b"z" * 11)  # heavier than the bound alone: not kept
    assert lru.get("huge") is None and lru.weight == 0
