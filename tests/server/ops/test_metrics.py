"""``GET /metrics``: Prometheus text format; after pushes the gauges read from the database move (meals per
canteen, per-terminal sync state and last sync age, intake flags by code) and the push's latency is recorded."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tests.server.conftest import Api
from tests.server.sync.helpers import build_world

PUSH = "/api/v1/sync/push"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Scrape:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    types: dict[str, str]

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(dict(labels), v) for (n, labels), v in self.samples.items() if n == name]


def parse(text: str) -> Scrape:
    """A strict reading of the text exposition format: every sample belongs to a family declared by ``# TYPE``
    before it, each line is ``name{labels} value``, no series twice."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter", "histogram") and name not in types
            types[name] = kind
            continue
        found = _SAMPLE.match(line)
        assert found, f"not a sample line: {line!r}"
        name, _, inner, value = found.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE"
        labels = frozenset(_LABEL.findall(inner or ""))
        assert (name, labels) not in samples, f"{line} twice"
        samples[(name, labels)] = float(value)
    return Scrape(samples, types)


def scrape(api: Api) -> Scrape:
    r = api.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def _push_count(s: Scrape) -> float:
    return s.value("ruyi_http_request_duration_seconds_count", method="POST", route=PUSH, status="200") or 0.0


def test_metrics_move_after_pushes(api: Api) -> None:
    world = build_world(api)
    before = scrape(api)
    assert before.types["ruyi_http_request_duration_seconds"] == "histogram"
    assert before.value("ruyi_meals_last_minute", canteen="ry-01") == 0  # every canteen listed, also with none
    assert before.value("ruyi_meals_received_total", canteen="ry-01") is None
    assert before.value("ruyi_intake_flags", code="quote_mismatch") is None
    assert before.series("ruyi_terminal_last_sync_age_seconds") == []

    at_a = world.chain(world.ta)
    at_a.walk_ins(3)
    at_a.sale(price=100)  # not the menu's price: flagged quote_mismatch at intake
    world.push(world.ta, at_a.records)
    at_b = world.chain(world.tb)
    at_b.walk_ins(2)
    world.push(world.tb, at_b.records)
    after = scrape(api)

    assert after.value("ruyi_meals_received_total", canteen="ry-01") == 4
    assert after.value("ruyi_meals_received_total", canteen="ry-02") == 2
    assert after.value("ruyi_meals_last_minute", canteen="ry-01") == 4
    assert after.value("ruyi_meals_last_minute", canteen="ry-02") == 2
    assert after.value("ruyi_intake_flags", code="quote_mismatch") == 1
    # per terminal, labelled by the terminal id the API uses
    assert after.value("ruyi_terminal_held_through", terminal=world.ta.id, canteen="ry-01") == 4
    assert after.value("ruyi_terminal_held_through", terminal=world.tb.id, canteen="ry-02") == 2
    assert after.value("ruyi_terminal_held_through", terminal=world.ta2.id, canteen="ry-01") == 0  # never pushed
    assert after.value("ruyi_terminal_meals_beyond_gap", terminal=world.ta.id, canteen="ry-01") == 0
    ages = {labels["terminal"]: age for labels, age in after.series("ruyi_terminal_last_sync_age_seconds")}
    assert set(ages) == {world.ta.id, world.tb.id}  # ta2 never synced: no age, rather than a made-up one
    assert all(0 <= age < 60 for age in ages.values()), ages

    # the latency of this process's requests, by route template: two more pushes, a sane histogram
    assert _push_count(after) == _push_count(before) + 2
    labels = {"method": "POST", "route": PUSH, "status": "200"}
    buckets = sorted(
        (float(dict(lab)["le"]), v)
        for (name, lab), v in after.samples.items()
        if name == "ruyi_http_request_duration_seconds_bucket" and {k: v for k, v in lab if k != "le"} == labels
    )
    assert buckets[-1] == (math.inf, _push_count(after))
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    total = after.value("ruyi_http_request_duration_seconds_sum", **labels)
    assert total is not None and total > 0


def test_a_gap_shows_as_meals_beyond_it(api: Api) -> None:
    """A terminal whose batch 1-2 was lost but 3 arrived: held through 0, one meal beyond the gap."""
    world = build_world(api)
    chain = world.chain(world.ta)
    chain.walk_ins(3)
    world.push(world.ta, chain.records[2:])
    after = scrape(api)
    assert after.value("ruyi_terminal_held_through", terminal=world.ta.id, canteen="ry-01") == 0
    assert after.value("ruyi_terminal_meals_beyond_gap", terminal=world.ta.id, canteen="ry-01") == 1
