"""Property: Point -> line protocol -> real influxd -> InfluxQL -> the same Point, for odd tag and string values."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.schema import Point
from core.store.influx_v1 import InfluxV1Sink
from core.store.influxql import InfluxQLReader

T0 = 1_700_000_000 * 10**9
_counter = itertools.count()

# Printable text (incl. Japanese, spaces, commas, equals, quotes); no control characters, which line protocol
# cannot carry in tags. Tag values must not be empty (empty tags are dropped by design). Backslashes in tags
# and newlines in string fields are excluded here: they have a defined lossy form, tested below.
text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\\"),
               min_size=1, max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(site=text, ap=text,
       message=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r"), max_size=40),
       clients=st.integers(-(2**63), 2**63 - 1), rtt=st.floats(allow_nan=False, allow_infinity=False),
       up=st.booleans())
@example(site="鹿嶋 市役所,1F=ロビー", ap="ap 1", message='say "hi", ok', clients=-1, rtt=1e-300, up=True)
@example(site="a b", ap="x", message="back\\slash\\", clients=2**63 - 1, rtt=-0.5, up=False)
def test_line_protocol_round_trip(influxd, influx_db, site: str, ap: str, message: str, clients: int, rtt: float,
                                  up: bool) -> None:
    t = T0 + next(_counter)
    p = Point("ap_event", {"site": site, "ap": ap, "kind": "down"},
              {"message": message, "incident_id": clients, "duration_s": rtt, "suppressed_by": up}, t)
    InfluxV1Sink(influxd.url, influx_db).send([p.to_line()])
    got = InfluxQLReader(influxd.url, influx_db).query("ap_event", t, t + 1)
    assert got == [p]


def _round_trip(influxd, db: str, tags: dict[str, str], message: str) -> list[Point]:
    t = T0 + 10**6 + next(_counter)
    p = Point("ap_event", {"kind": "down", **tags}, {"message": message}, t)
    InfluxV1Sink(influxd.url, db).send([p.to_line()])
    return InfluxQLReader(influxd.url, db).query("ap_event", t, t + 1)


def test_backslash_in_tag_value_is_written_as_slash(influxd, influx_db) -> None:
    # InfluxDB 1.x cannot carry a trailing backslash in a tag (it escapes the separator): core/schema.py maps
    # backslashes in tags to "/" so such a point is stored instead of being rejected with a 400.
    got = _round_trip(influxd, influx_db, {"ap": "trailing\\", "site": "a\\b"}, "m")
    assert [dict(p.tags) for p in got] == [{"kind": "down", "ap": "trailing/", "site": "a/b"}]


def test_newline_in_string_field_becomes_a_space(influxd, influx_db) -> None:
    # line protocol has no escape for a line break in a string field; messages are kept to one line
    got = _round_trip(influxd, influx_db, {"ap": "a"}, "line one\nline two")
    assert [p.fields["message"] for p in got] == ["line one line two"]
