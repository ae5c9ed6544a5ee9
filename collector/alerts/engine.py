"""The alert engine: heartbeats in; incidents, ap_event points and queued notifications out.

Suppression, in order: the monitoring host lost every target at once (one alert for all); an AP
behind a site uplink that is down (one site alert); a maintenance window; a flapping device. A
suppressed incident is still recorded, marked with what suppressed it, and gets no recovery message
because nobody was told it went down. Messages are rendered once and queued in the outbox under a
unique key (incident + kind), so a restart can neither lose nor repeat an alert.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from collector.alerts import ack, escalation, rota
from collector.alerts.notify import DeliveryError, Message, render, routed, send
from collector.alerts.state import DeviceState, Heartbeat, State, Thresholds, Transition, observe_clients, step
from collector.alerts.store import AlertStore, Incident
from collector.alerts.wording import cause_text, links
from core.inventory import Device, Inventory, Maintenance, Site
from core.logs import kv
from core.maintenance import JST, active_windows, covering
from core.schema import Point
from core.secrets import SecretResolver

log = logging.getLogger("wifiwatch.alerts")

MAX_ATTEMPTS = 6
HOST = "*"  # the pseudo-device of "monitoring host lost network"
OPENS = {"down": "down", "site_down": "site_down", "degraded": "degraded", "flapping": "flapping"}
CLOSES = {"up": "down", "site_up": "site_down", "degraded_clear": "degraded", "flap_end": "flapping"}
RESOLVED = "resolved"  # the severity of a recovery message: it routes like its outage but alarms nobody
SEVERITY = {"down": "critical", "site_down": "critical", "monitoring_lost": "critical", "degraded": "warning",
            "flapping": "warning"}


def fmt_time(ts: float | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts, JST).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    if lang == "ja":
        return (f"{h}時間" if h else "") + (f"{m}分" if h or m else "") + f"{sec}秒"
    return (f"{h} h " if h else "") + (f"{m} min " if h or m else "") + f"{sec} s"


class AlertEngine:
    def __init__(self, inv: Inventory, db_path: Path | str, resolver: SecretResolver,
                 clock: Callable[[], float] = time.time, sender: Callable[..., None] = send):
        self.store = AlertStore(Path(db_path))
        self.duty = True  # acknowledgements, escalation and the rota (their tables exist)
        try:
            with self.store.tx() as c:
                ack.ensure_schema(c)
                rota.ensure_schema(c)
        except sqlite3.DatabaseError as e:  # a damaged file: the daemon still starts, /healthz names the store
            self.duty = False
            log.info("alert tables for acknowledgements and the rota not created", extra=kv(error=str(e)))
        self.resolver = resolver
        self.clock = clock
        self._send = sender
        self.states: dict[str, DeviceState] = self.store.load_states()
        self.last_clients: dict[str, int] = {}
        self.enqueued = 0  # messages queued since start: the daemon delivers at once when it grows
        # A collector group's shared incidents (collector.cluster.incidents.SharedIncidents): asked before a
        # message is queued, so one outage gives one DOWN and one UP across the group. None on one machine.
        self.shared: Any = None
        self.owned: set[str] | None = None  # in a group: the devices this member polls (None: all of them)
        self.reload(inv)

    # -- configuration ------------------------------------------------------------------------------
    def reload(self, inv: Inventory) -> None:
        self.inv = inv
        a = inv.alerts
        self.t = Thresholds(a.down_after, a.up_after, a.degraded_loss_pct, a.degraded_rtt_ms,
                            a.saturation_minutes * 60, a.flap_changes, a.flap_window_min * 60)
        self.devices: dict[str, tuple[Site, Device, str]] = {}
        for site in inv.sites:
            if site.uplink is not None:
                self.devices[site.uplink.id] = (site, site.uplink, "uplink")
            for ap in site.aps:
                self.devices[ap.id] = (site, ap, "ap")
        for ctl in inv.controllers:  # one device: a silent controller is one incident, its APs go unknown
            self.devices[ctl.id] = (inv.site(ctl.site), ctl, "controller")
        self.channels = {c.name: c for c in inv.alerts.channels}

    def windows(self) -> list[Maintenance]:
        """The config's windows and the added ones: core.maintenance.active_windows, the one merge."""
        return active_windows(self.inv.maintenance, self.store.maintenance())

    # -- observations --------------------------------------------------------------------------------
    def in_doubt(self, ids: Sequence[str]) -> list[str]:
        """Devices whose last heartbeat disagreed with their confirmed state (SUSPECT or RECOVERING).

        The daemon probes these at twice the heartbeat rate, so the ``down_after`` misses that confirm an
        outage take two heartbeat intervals instead of three: with the defaults (10 s, 3 misses) a DOWN
        is sent 12-22 s after the AP went silent instead of 22-32 s (docs/benchmarks/alerts.md).
        """
        doubtful = (State.SUSPECT, State.RECOVERING)
        return [i for i in ids if i in self.states and self.states[i].phase in doubtful]

    def observe(self, now: float, heartbeats: Mapping[str, Heartbeat | None]) -> list[Point]:
        """One heartbeat cycle for (typically) every device; returns ap_event points for the store."""
        changed: dict[str, DeviceState] = {}
        transitions: list[tuple[str, Transition]] = []
        for dev, hb in heartbeats.items():
            if dev not in self.devices:
                continue
            before = self.states.get(dev, DeviceState())
            after, trans = step(before, hb, now, self.t)
            if after != before:
                self.states[dev] = changed[dev] = after
            transitions.extend((dev, t) for t in trans)
        with_data = [hb for hb in heartbeats.values() if hb is not None]
        all_failing = len(with_data) >= 2 and not any(hb.reachable for hb in with_data)
        points: list[Point] = []
        windows = self.windows()
        with self.store.tx() as c:
            self.store.save_states(c, changed)
            if self.shared is not None:
                from collector.alerts.store import _encode

                self.shared.save_states({d: _encode(s) for d, s in changed.items()})
            points += self._host_network(c, now, all_failing, len(with_data))
            host_lost = self._open(c, HOST, "monitoring_lost") is not None
            for dev, tr in transitions:
                points += self._handle(c, dev, tr, now, host_lost, windows)
            self._reminders(c, now)
        return points

    def observe_clients(self, now: float, ap_id: str, clients: int | None, radios: int | None = None) -> list[Point]:
        """Saturation: clients above capacity (per radio x radios) for saturation_minutes -> DEGRADED."""
        if ap_id not in self.devices or clients is None:
            return []
        self.last_clients[ap_id] = clients
        _, ap, _ = self.devices[ap_id]
        capacity = self.inv.capacity_for(ap) * max(1, radios or 2)  # type: ignore[arg-type]
        before = self.states.get(ap_id, DeviceState())
        after, trans = observe_clients(before, clients, capacity, now, self.t)
        points: list[Point] = []
        with self.store.tx() as c:
            if after != before:
                self.states[ap_id] = after
                self.store.save_states(c, {ap_id: after})
            for tr in trans:
                points += self._handle(c, ap_id, tr, now, False, self.windows())
        return points

    def observe_trap(self, now: float, dev: str, reachable: bool, cause: str) -> list[Point]:
        """A trap the collector confirmed with a probe: open or close the device's outage now."""
        from collector.alerts.state import trap_step

        if dev not in self.devices:
            return []
        before = self.states.get(dev, DeviceState())
        after, trans = trap_step(before, reachable, now, self.t, cause)
        points: list[Point] = []
        with self.store.tx() as c:
            if after != before:
                self.states[dev] = after
                self.store.save_states(c, {dev: after})
            host_lost = self._open(c, HOST, "monitoring_lost") is not None
            for tr in trans:
                points += self._handle(c, dev, tr, now, host_lost, self.windows())
        return points

    # -- incidents -------------------------------------------------------------------------------------
    def _open(self, c: sqlite3.Connection, device: str, kind: str) -> Incident | None:
        row = c.execute("SELECT * FROM alert_incidents WHERE device=? AND kind=? AND end IS NULL "
                        "ORDER BY id DESC LIMIT 1", (device, kind)).fetchone()
        return Incident(*row) if row else None

    def _host_network(self, c: sqlite3.Connection, now: float, all_failing: bool, n: int) -> list[Point]:
        inc = self._open(c, HOST, "monitoring_lost")
        if all_failing and inc is None:
            mine = self.states if self.owned is None else {d: s for d, s in self.states.items() if d in self.owned}
            streak = [s.first_fail_at for s in mine.values() if s.fails >= self.t.down_after]
            if len(streak) < (len(self.devices) if self.owned is None else len(self.owned)):
                return []
            start = min((s for s in streak if s is not None), default=now)
            iid = self._create(c, HOST, "*", "monitoring_lost", start, "every target failed at once", None, "critical")
            self._notify(c, iid, "monitoring_lost", "critical", None, now, {"device_count": n, "since_ts": start})
            return [self._event("*", HOST, "monitoring_lost", State.DOWN, State.UP, "critical", iid, None, None,
                                at=now)]
        if not all_failing and inc is not None and n:
            self._close(c, inc, now)
            if inc.notified:
                self._notify(c, inc.id, "monitoring_restored", RESOLVED, None, now,
                             {"since_ts": inc.start, "until_ts": now, "duration_s": now - inc.start},
                             route_as=inc.severity)
            return [self._event("*", HOST, "monitoring_restored", State.UP, State.DOWN, RESOLVED, inc.id,
                                now - inc.start, None, at=now)]
        return []

    def _suppressed_by(self, dev: str, site: Site, role: str, host_lost: bool, kind: str,
                       windows: list[Maintenance], now: float) -> str | None:
        if host_lost:
            return "monitoring-host"
        if role == "ap" and site.uplink is not None:
            up = self.states.get(site.uplink.id)
            if up is not None and up.confirmed == State.DOWN:
                return f"uplink:{site.uplink.id}"
        w = covering(windows, dev, site.id, now)
        if w is not None:
            return f"maintenance:{w.id}"
        if kind in ("down", "site_down") and self.states.get(dev, DeviceState()).flapping:
            return "flapping"
        return None

    def _handle(self, c: sqlite3.Connection, dev: str, tr: Transition, now: float, host_lost: bool,
                windows: list[Maintenance]) -> list[Point]:
        site, device, role = self.devices[dev]
        kind = {"down": "site_down", "up": "site_up"}.get(tr.kind, tr.kind) if role == "uplink" else tr.kind
        extra = {"cause": tr.cause, "ap_count": len(site.aps)}
        if kind in OPENS:
            severity = SEVERITY[kind]
            why = self._suppressed_by(dev, site, role, host_lost, kind, windows, now)
            start = tr.started_at if tr.started_at is not None else now
            iid = self._create(c, dev, site.id, kind, start, tr.cause, why, severity)
            if why is None and self.shared is not None and not self.shared.open(dev, kind, start, severity):
                log.info("alert already sent by another member", extra=kv(device=dev, kind=kind))
            elif why is None:
                self._notify(c, iid, kind, severity, dev, now, {**extra, "since_ts": start,
                                                                 "duration_s": now - start})
            else:
                log.info("alert suppressed", extra=kv(device=dev, kind=kind, suppressed_by=why))
            return [self._event(site.id, dev, kind, tr.current, tr.previous, severity, iid, None, why, now)]
        opened = self._open(c, dev, CLOSES[kind])
        tell = bool(opened is not None and opened.notified)
        if self.shared is not None:
            opened, tell = self._close_shared(c, dev, site, CLOSES[kind], opened, tell)
        if opened is None:
            return [self._event(site.id, dev, kind, tr.current, tr.previous, "info", None, tr.duration_s, None, now)]
        end = tr.end
        self._close(c, opened, end)
        duration = end - opened.start
        if tell:  # to the same channels the opening went to, marked resolved
            self._notify(c, opened.id, kind, RESOLVED, dev, now,
                         {**extra, "since_ts": opened.start, "until_ts": end, "duration_s": duration,
                          "state": tr.current.value}, route_as=opened.severity)
        return [self._event(site.id, dev, kind, tr.current, tr.previous, RESOLVED, opened.id, duration,
                            opened.suppressed_by, now)]

    def _close_shared(self, c: sqlite3.Connection, dev: str, site: Site, kind: str, opened: Incident | None,
                      tell: bool) -> tuple[Incident | None, bool]:
        """The group's view of an outage that ends here: the member that removes the shared record tells
        people, even when another member opened it (its incident is then recorded here to be closed)."""
        from collector.cluster.incidents import UNKNOWN

        rec = self.shared.close(dev, kind, opened.start if opened is not None else 0.0, self.clock())
        if rec is UNKNOWN:
            return opened, tell  # Redis did not answer or lost the record: this member's own record decides
        if not isinstance(rec, dict):
            return opened, False  # never told, or another member already sent the recovery
        if opened is None:
            start = float(rec.get("start", self.clock()))
            severity = str(rec.get("severity", SEVERITY.get(kind, "critical")))
            self._create(c, dev, site.id, kind, start, f"opened by {rec.get('member', '?')}", None, severity)
            opened = self._open(c, dev, kind)
        return opened, True

    def adopt_states(self, devices: Sequence[str]) -> int:
        """Devices this member takes over: continue the group's state machine for them (shared states)."""
        if self.shared is None:
            return 0
        from collector.alerts.store import _decode

        got = {d: _decode(v) for d, v in self.shared.load_states(devices).items()}
        self.states.update(got)
        records = self.shared.open_records([d for d in devices if d in self.devices], OPENS.values())
        with self.store.tx() as c:
            self.store.save_states(c, got)
            for (dev, kind), rec in records.items():  # its open outages go on here: reminders, escalation, UP
                if self._open(c, dev, kind) is None:
                    site = self.devices[dev][0]
                    self._create(c, dev, site.id, kind, float(rec.get("start", self.clock())),
                                 f"opened by {rec.get('member', '?')}", None,
                                 str(rec.get("severity", SEVERITY.get(kind, "critical"))))
        return len(got)

    def group_event(self, kind: str, key: str, values: dict[str, Any], now: float) -> bool:
        """A group-wide event (a member lost): one incident and one message, for the member that claimed it."""
        with self.store.tx() as c:
            iid = self._create(c, f"member:{values.get('member', '?')}", "*", kind, now,
                               str(values.get("cause", kind)), None, "critical")
            self._close(c, Incident(iid, "", "*", kind, now, None, None, "", None, True, now, 0, "critical"), now)
            before = self.enqueued
            self._notify(c, iid, kind, "critical", None, now, {"since_ts": now, **values}, key=key)
        return self.enqueued != before

    def _create(self, c: sqlite3.Connection, dev: str, site: str, kind: str, start: float, cause: str,
                why: str | None, severity: str) -> int:
        cur = c.execute("INSERT INTO alert_incidents(device, site, kind, start, cause, suppressed_by, notified, "
                        "last_notified, severity) VALUES (?,?,?,?,?,?,?,?,?)",
                        (dev, site, kind, start, cause, why, int(why is None), start if why is None else None,
                         severity))
        return int(cur.lastrowid or 0)

    def _close(self, c: sqlite3.Connection, inc: Incident, now: float) -> None:
        c.execute("UPDATE alert_incidents SET end=?, duration_s=? WHERE id=?", (now, now - inc.start, inc.id))

    def _reminders(self, c: sqlite3.Connection, now: float) -> None:
        every = self.inv.alerts.reminder_h * 3600
        rows = c.execute("SELECT * FROM alert_incidents WHERE end IS NULL AND notified=1 AND kind IN "
                         "('down','site_down','monitoring_lost') AND last_notified <= ?"
                         + (f" AND {ack.UNACKED}" if self.duty else ""),
                         (now - every,)).fetchall()
        for row in rows:
            inc = Incident(*row)
            n = inc.reminders + 1
            if self.shared is not None and not self.shared.claim(
                    f"{inc.device}:{inc.kind}:{int(inc.start)}:reminder:{n}", 7 * 86400):
                c.execute("UPDATE alert_incidents SET last_notified=?, reminders=? WHERE id=?", (now, n, inc.id))
                continue
            self._notify(c, inc.id, "reminder", inc.severity, None if inc.device == HOST else inc.device, now,
                         {"since_ts": inc.start, "duration_s": now - inc.start}, key=f"{inc.id}:reminder:{n}")
            c.execute("UPDATE alert_incidents SET last_notified=?, reminders=? WHERE id=?", (now, n, inc.id))
        self._escalate(c, now)

    def _escalate(self, c: sqlite3.Connection, now: float) -> None:
        """Unacknowledged outages past ``escalate_after_min`` go to the escalation channel too (once each)."""
        a = self.inv.alerts
        ch = self.channels.get(a.escalate_channel or "")
        if a.escalate_after_min is None or ch is None or not self.duty:
            return
        for iid, dev, kind, start, severity in escalation.due(c, now, a.escalate_after_min * 60):
            if self.shared is not None and not self.shared.claim(f"{dev}:{kind}:{int(start)}:escalate", 7 * 86400):
                continue  # another member of the group escalated this outage
            device = None if dev == HOST else dev
            msg = render("escalation", ch.lang, self.context(device, ch.lang, {
                "since_ts": start, "duration_s": now - start, "cause": kind}), severity)
            if self.store.enqueue(c, f"{iid}:escalate", ch.name, "escalation", msg.subject, msg.body, severity,
                                  {**msg.data, "incident_id": iid}, now):
                self.enqueued += 1

    # -- messages -----------------------------------------------------------------------------------------
    def context(self, dev: str | None, lang: str, values: dict[str, Any]) -> dict[str, Any]:
        ctx: dict[str, Any] = {**links(self.inv.alerts), "device_id": dev or "-"}
        if dev is not None and dev in self.devices:
            site, device, _ = self.devices[dev]
            ctx["site_name"] = site.name_ja if lang == "ja" else site.name_en
            own = getattr(device, "name_ja", None) if lang == "ja" else getattr(device, "name_en", None)
            ctx["device_name"] = own or dev
            ctx["clients"] = self.last_clients.get(dev, "-")
            ctx["site_id"] = site.id
        ctx["since"] = fmt_time(values.get("since_ts"))
        ctx["until"] = fmt_time(values.get("until_ts"))
        ctx["duration"] = fmt_duration(values.get("duration_s"), lang)
        if "duration_s" in values and values["duration_s"] is not None:
            ctx["duration_s"] = round(float(values["duration_s"]), 1)
        for k in ("cause", "ap_count", "device_count", "channel", "member", "moved", "members"):
            if k in values:
                ctx[k] = values[k]
        if "cause" in ctx:
            ctx["cause"] = cause_text(str(ctx["cause"]), lang)
        if "state" in values:
            ctx["state"] = values["state"]
        return ctx

    def _notify(self, c: sqlite3.Connection, iid: int, kind: str, severity: str, dev: str | None, now: float,
                values: dict[str, Any], key: str | None = None, route_as: str | None = None) -> None:
        """``route_as``: the severity that picks the channels (a recovery goes where its outage went)."""
        site_kind = self.devices[dev][0].kind.value if dev in self.devices else ""
        site_id = self.devices[dev][0].id if dev in self.devices else "*"
        shifts = rota.shifts(c) if self.duty else []
        for ch in self.channels.values():
            if not routed(ch, route_as or severity, site_kind) or not rota.on_duty(shifts, ch.name, site_id, now):
                continue
            msg = render(kind, ch.lang, self.context(dev, ch.lang, values), severity)
            if self.store.enqueue(c, key or f"{iid}:{kind}", ch.name, kind, msg.subject, msg.body, severity,
                                  {**msg.data, "incident_id": iid}, now):
                self.enqueued += 1

    def _event(self, site: str, dev: str, kind: str, state: State, previous: State, severity: str,
               iid: int | None, duration: float | None, why: str | None, at: float) -> Point:
        fields: dict[str, Any] = {"state": state.value, "previous": previous.value, "severity": severity}
        if iid is not None:
            fields["incident_id"] = iid
        if duration is not None and math.isfinite(duration):
            fields["duration_s"] = float(duration)
        if why:
            fields["suppressed_by"] = why
        return Point("ap_event", {"site": site, "ap": dev, "kind": kind}, fields, int(at * 1e9))

    # -- delivery -------------------------------------------------------------------------------------------
    def deliver_due(self, now: float | None = None) -> int:
        """Send what is due; failures back off exponentially, then go to the dead-letter table. Never raises."""
        now = self.clock() if now is None else now
        sent = 0
        for oid, chan, kind, subject, body, severity, data, attempts in self.store.due(now):
            ch = self.channels.get(chan)
            if ch is None:
                self.store.mark_failed(oid, f"channel '{chan}' is no longer configured", None, now)
                continue
            try:
                self._send(ch, Message(kind, severity, subject, body, json.loads(data)), self.resolver)
            except DeliveryError as e:
                final = e.permanent or attempts + 1 >= MAX_ATTEMPTS
                next_at = None if final else now + min(600.0, 5.0 * 2**attempts)
                self.store.mark_failed(oid, str(e), next_at, now)
                if final:
                    log.error("alert dead-lettered", extra=kv(channel=chan, kind=kind, error=str(e),
                                                              attempts=attempts + 1))
                else:
                    log.warning("alert delivery failed, will retry",
                                extra=kv(channel=chan, kind=kind, error=str(e), retry_in_s=(next_at or now) - now))
                continue
            except Exception as e:  # a bug in one channel must not stop the others
                log.exception("alert delivery crashed", extra=kv(channel=chan))
                self.store.mark_failed(oid, f"internal error: {type(e).__name__}", now + 60, now)
                continue
            self.store.mark_sent(oid, self.clock())
            sent += 1
            log.info("alert sent", extra=kv(channel=chan, kind=kind, subject=subject))
        return sent

    def send_test(self, channel_name: str) -> None:
        ch = self.channels.get(channel_name)
        if ch is None:
            raise DeliveryError(f"no alert channel '{channel_name}' (configured: "
                                f"{', '.join(sorted(self.channels)) or 'none'})", permanent=True)
        now = self.clock()
        msg = render("test", ch.lang, self.context(None, ch.lang, {"since_ts": now, "channel": ch.name}), "info")
        self._send(ch, msg, self.resolver)

    def close(self) -> None:
        self.store.close()
