"""The v2c wire path (collector/snmp/v2c.py) against pysnmp/pyasn1 as the reference codec, and over loopback UDP.

Equivalence is what matters: whichever wire a v2c poll takes, the poller must see the same Var values.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto.api import v2c as api

from collector.snmp.client import SnmpClient, SnmpError, Target, V2c, decode
from collector.snmp.poller import PollResult
from collector.snmp.v2c import BerError, V2cTimeout, V2cTransport, decode_response, encode_request
from core.secrets import Secret

oids = st.builds(
    lambda first, second, rest: (first, second, *rest),
    st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**32 - 1), max_size=12),
)

values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(api.Integer),
    st.integers(0, 2**32 - 1).map(api.Counter32),
    st.integers(0, 2**32 - 1).map(api.Gauge32),
    st.integers(0, 2**32 - 1).map(api.TimeTicks),
    st.integers(0, 2**64 - 1).map(api.Counter64),
    st.binary(max_size=300).map(api.OctetString),
    st.binary(max_size=20).map(api.Opaque),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: api.IpAddress(".".join(map(str, t)))),
    oids.map(api.ObjectIdentifier),
    st.sampled_from(["noSuchObject", "noSuchInstance", "endOfMibView", "null"]).map(
        lambda k: {"noSuchObject": api.NoSuchObject, "noSuchInstance": api.NoSuchInstance,
                   "endOfMibView": api.EndOfMibView}.get(k, api.Null)("")),
)


def reference_response(request_id: int, community: bytes, binds: list[tuple[tuple[int, ...], object]],
                       status: int = 0, index: int = 0) -> bytes:
    msg = api.Message()
    api.apiMessage.set_defaults(msg)
    api.apiMessage.set_community(msg, community)
    pdu = api.GetResponsePDU()
    api.apiPDU.set_defaults(pdu)
    api.apiPDU.set_request_id(pdu, request_id)
    api.apiPDU.set_error_status(pdu, status)
    api.apiPDU.set_error_index(pdu, index)
    api.apiPDU.set_varbinds(pdu, binds)
    api.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**31 - 1), st.binary(min_size=1, max_size=40), st.lists(st.tuples(oids, values), max_size=30))
def test_responses_decode_as_the_pysnmp_path_decodes_them(rid: int, community: bytes, binds: list) -> None:  # type: ignore[type-arg]
    data = reference_response(rid, community, binds)
    ours = decode_response(data)
    ref, _ = decoder.decode(data, asn1Spec=api.Message())
    ref_binds = api.apiPDU.get_varbinds(api.apiMessage.get_pdu(ref))
    assert (ours.request_id, ours.community) == (rid, community)
    assert [o for o, _ in ours.varbinds] == [tuple(o) for o, _ in ref_binds]
    assert [v for _, v in ours.varbinds] == [decode(v) for _, v in ref_binds]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**31 - 1), st.binary(max_size=40), st.lists(oids, min_size=1, max_size=20),
       st.one_of(st.none(), st.tuples(st.integers(0, 5), st.integers(1, 60))))
@example(0, b"\x01", [(0, 0)], (0, 1))  # CI: searching the bytes for the community found the version's 1
def test_requests_decode_with_pyasn1(rid: int, community: bytes, request_oids: list, bulk) -> None:  # type: ignore[no-untyped-def, type-arg]
    data = encode_request(rid, community, request_oids, bulk)
    msg, rest = decoder.decode(data, asn1Spec=api.Message())
    assert rest == b""
    pdu = api.apiMessage.get_pdu(msg)
    assert bytes(api.apiMessage.get_community(msg)) == community
    assert int(api.apiPDU.get_request_id(pdu)) == rid
    assert [tuple(o) for o, _ in api.apiPDU.get_varbinds(pdu)] == request_oids
    if bulk is None:
        assert isinstance(pdu, api.GetRequestPDU)
    else:
        assert isinstance(pdu, api.GetBulkRequestPDU)
        assert (int(api.apiBulkPDU.get_non_repeaters(pdu)), int(api.apiBulkPDU.get_max_repetitions(pdu))) == bulk


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(oids, values), min_size=1, max_size=8), st.data())
def test_damaged_responses_raise_ber_error_only(binds: list, data: st.DataObject) -> None:  # type: ignore[type-arg]
    good = reference_response(7, b"c", binds)
    cut = data.draw(st.integers(0, len(good) - 1))
    flip = data.draw(st.integers(0, len(good) - 1))
    for damaged in (good[:cut], good[:flip] + bytes([good[flip] ^ 0xFF]) + good[flip + 1:]):
        with contextlib.suppress(BerError):  # anything but BerError fails the test
            decode_response(damaged)


# -- over loopback UDP -------------------------------------------------------------------------------------
class Responder(asyncio.DatagramProtocol):
    """A scripted agent on 127.0.0.1: ``answer(request bytes, n-th request)`` returns datagrams to send back."""

    def __init__(self, answer: Callable[[bytes, int], list[tuple[bytes, tuple[str, int] | None]]]):
        self.answer = answer
        self.seen = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.seen += 1
        for out, to in self.answer(data, self.seen):
            assert self.transport is not None
            self.transport.sendto(out, to or addr)


def request_id_of(data: bytes) -> int:
    msg, _ = decoder.decode(data, asn1Spec=api.Message())
    return int(api.apiPDU.get_request_id(api.apiMessage.get_pdu(msg)))


UPTIME = ((1, 3, 6, 1, 2, 1, 1, 3, 0), api.TimeTicks(4242))


async def serve(answer: Callable[[bytes, int], list[tuple[bytes, tuple[str, int] | None]]]
                ) -> tuple[asyncio.DatagramTransport, Responder, int]:
    loop = asyncio.get_running_loop()
    proto = Responder(answer)
    tr, _ = await loop.create_datagram_endpoint(lambda: proto, local_addr=("127.0.0.1", 0))
    return tr, proto, tr.get_extra_info("sockname")[1]


def test_a_lost_request_is_resent_and_answered() -> None:
    def answer(data: bytes, n: int) -> list[tuple[bytes, tuple[str, int] | None]]:
        return [] if n == 1 else [(reference_response(request_id_of(data), b"pub", [UPTIME]), None)]

    async def run() -> tuple[int, object]:
        tr, proto, port = await serve(answer)
        v2 = V2cTransport()
        try:
            r = await v2.request(("127.0.0.1", port), socket.AF_INET, b"pub", [UPTIME[0]], None, 0.2, 1)
            return proto.seen, r.varbinds
        finally:
            v2.close()
            tr.close()

    seen, binds = asyncio.run(run())
    assert seen == 2 and binds == [(UPTIME[0], decode(UPTIME[1]))]


def test_answers_from_elsewhere_or_with_another_community_are_ignored() -> None:
    """A spoofed or stray datagram with the right request-id must not complete the request."""

    async def run() -> tuple[int, str]:
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.0.0.2", 0))

        def answer(data: bytes, n: int) -> list[tuple[bytes, tuple[str, int] | None]]:
            rid = request_id_of(data)
            return [(reference_response(rid, b"other", [UPTIME]), None)]

        tr, proto, port = await serve(answer)
        v2 = V2cTransport()
        loop = asyncio.get_running_loop()
        try:
            task = loop.create_task(v2.request(("127.0.0.1", port), socket.AF_INET, b"pub", [UPTIME[0]], None,
                                               0.3, 0))
            await asyncio.sleep(0.05)
            # the same request-id from another loopback address and the right community
            (rid,) = list(v2._pending)
            our_port = v2._transports[socket.AF_INET].get_extra_info("sockname")[1]
            stranger.sendto(reference_response(rid, b"pub", [UPTIME]), ("127.0.0.1", our_port))
            try:
                await task
                return proto.seen, "answered"
            except V2cTimeout:
                return proto.seen, "timeout"
        finally:
            stranger.close()
            v2.close()
            tr.close()

    seen, outcome = asyncio.run(run())
    assert (seen, outcome) == (1, "timeout")


def test_client_reports_malformed_answer_as_bad_data_and_error_status_by_name() -> None:
    def answer(data: bytes, n: int) -> list[tuple[bytes, tuple[str, int] | None]]:
        good = reference_response(request_id_of(data), b"pub", [UPTIME], status=2 if n == 2 else 0, index=1)
        # the first answer's varbind holds no OID where one must be (lengths intact, so it reaches its request)
        oid = bytes.fromhex("06082b06010201010300")
        return [(good.replace(oid, b"\x04" + oid[1:]) if n == 1 else good, None)]

    async def run() -> list[str]:
        tr, _, port = await serve(answer)
        client = SnmpClient(v2c_wire="native")
        target = Target("127.0.0.1", port, V2c(Secret("pub", "test:c")), 0.5, 0)
        out = []
        try:
            for _ in range(2):
                try:
                    await client.get(target, [UPTIME[0]])
                    out.append("ok")
                except SnmpError as e:
                    out.append(f"{e.kind}: {e}")
            return out
        finally:
            await client.close()
            tr.close()

    first, second = asyncio.run(run())
    assert first.startswith("bad_data: ") and "malformed" in first
    assert second.startswith("no_such_object: ") and "noSuchName" in second


def test_unknown_wire_name_is_refused() -> None:
    with pytest.raises(ValueError, match="WIFIWATCH_SNMP_V2C_WIRE"):
        SnmpClient(v2c_wire="carrier-pigeon")


# -- the poller over both wires, on the snmpsim recordings (fixtures shared with test_snmp_agents) ------------
from tests import test_snmp_agents as _agents  # noqa: E402

RECORDINGS, poll, v2c = _agents.RECORDINGS, _agents.poll, _agents.v2c
agent, data_dir, profiles = _agents.agent, _agents.data_dir, _agents.profiles  # module fixtures: one agent here


def _shape(res: PollResult) -> tuple[object, ...]:
    """What must not depend on the wire or on skipped columns (counts move with the simulated clock)."""
    ifaces = {n: (s.bits, s.oper_up, s.speed_bps, s.rx_bytes is not None) for n, s in res.interfaces.items()}
    return res.ok, res.error, res.vendor, res.sys_object_id, ifaces, set(res.clients_by_radio), set(res.clients_by_ssid)


def test_later_polls_are_one_pdu_and_read_what_the_first_did(agent, profiles) -> None:  # type: ignore[no-untyped-def]
    targets = [(name, v2c(agent, name), name) for name in sorted(RECORDINGS)]
    first, _, third = poll(profiles, targets, rounds=3, pause_s=0.2)
    for a, c in zip(first, third, strict=True):
        assert c.ok and c.error is None, (c.device_id, c.error)
        assert c.pdus == 1, (c.device_id, c.pdus)
        assert _shape(c) == _shape(a)


def test_both_wires_read_the_same(agent, profiles, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    targets = [(name, v2c(agent, name), "auto") for name in sorted(RECORDINGS)]
    native = poll(profiles, targets, rounds=2)
    monkeypatch.setenv("WIFIWATCH_SNMP_V2C_WIRE", "pysnmp")
    via_pysnmp = poll(profiles, targets, rounds=2)
    for n, p in zip(native[1], via_pysnmp[1], strict=True):
        assert _shape(n) == _shape(p)
        assert n.uptime_s is not None and p.uptime_s is not None and abs(n.uptime_s - p.uptime_s) < 60
