"""Ship rows from the SQLite store to InfluxDB after a persisted cursor, at-least-once and idempotent.

The cursor advances only after a 2xx (or after the batch is parked in the dead-letter table), in the same
SQLite database as the rows, so a crash at any moment re-sends at most one batch; points carry explicit
ns timestamps, so InfluxDB overwrites the re-sent ones instead of duplicating them.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from core.logs import kv
from core.store.errors import SinkError
from core.store.sqlite_store import SqliteStore

log = logging.getLogger("wifiwatch.store.forwarder")


class Sink(Protocol):
    url: str
    database: str

    def send(self, lines: Sequence[str]) -> None: ...

    def ping(self) -> str | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ForwardResult:
    sent: int
    dead_lettered: int
    backlog: int
    error: SinkError | None = None


def backoff_delay(failures: int, base_s: float = 1.0, cap_s: float = 300.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(failures-1))]; never below 0.1 s."""
    ceiling = min(cap_s, base_s * 2 ** max(0, failures - 1))
    return max(0.1, (rng or random).uniform(0, ceiling))


class Forwarder:
    def __init__(
        self,
        store: SqliteStore,
        sink: Sink,
        batch_size: int = 5000,
        *,
        idle_s: float = 2.0,
        backoff_cap_s: float = 300.0,
        backoff_base_s: float = 1.0,
    ):
        self.store = store
        self.sink = sink
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.backoff_cap_s = backoff_cap_s
        self.backoff_base_s = backoff_base_s
        self.failures = 0
        self._last_cause: str | None = None
        self._last_message = ""
        self._failing_since: float | None = None
        self._rng = random.Random()
        if store.meta("cursor") is None:
            store.set_cursor(0)  # marks the store as forwarding: prune keeps unsent rows from now on

    # -- one batch ---------------------------------------------------------------------------
    def forward_once(self) -> ForwardResult:
        """Send the next batch. A retryable failure leaves the cursor where it was and is returned in ``error``."""
        return self._forward(self.store.lines_after(self.store.cursor(), self.batch_size))

    def _forward(self, rows: list[tuple[int, str]]) -> ForwardResult:
        if not rows:
            return ForwardResult(0, 0, 0)
        items = [(rid, line) for rid, line in rows if line]
        try:
            sent, dead = self._send(items)
        except SinkError as e:
            self._note_failure(e)
            return ForwardResult(0, 0, self.store.backlog(), e)
        self.store.set_cursor(rows[-1][0])
        self._note_success(sent)
        return ForwardResult(sent, dead, self.store.backlog())

    def _send(self, items: list[tuple[int, str]]) -> tuple[int, int]:
        """Send ``items``; returns (sent, dead-lettered). Retryable errors propagate (sub-batches already done keep
        their cursor advance, so a retry re-sends only the rest).

        A batch refused for its content (400) is split in halves until the bad lines stand alone, so the good
        lines still land; those and batches refused for credentials/database (401/403/404) are dead-lettered.
        """
        if not items:
            return 0, 0
        try:
            self.sink.send([line for _, line in items])
            self.store.set_cursor(items[-1][0])  # per sub-batch, so a later retryable error re-sends only the rest
            return len(items), 0
        except SinkError as e:
            if e.retryable:
                raise
            if e.bisectable and len(items) > 1:
                mid = len(items) // 2
                a_sent, a_dead = self._send(items[:mid])
                b_sent, b_dead = self._send(items[mid:])
                return a_sent + b_sent, a_dead + b_dead
            self._dead_letter(items, e)
            return 0, len(items)

    def _dead_letter(self, items: list[tuple[int, str]], e: SinkError) -> None:
        self.store.dead_letter(items[0][0], items[-1][0], e.status, e.message, [line for _, line in items],
                               advance_cursor=True)
        self.store.set_meta("last_error", f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {e.message}")
        log.error(
            f"InfluxDB refused {len(items)} point(s) ({e.cause}); kept in the dead-letter table, not retried",
            extra=kv(url=self.sink.url, database=self.sink.database, status=e.status, cause=e.cause,
                     server_message=e.message, first_row=items[0][0], last_row=items[-1][0]),
        )

    def retry_dead_letters(self, ids: Sequence[int] | None = None) -> tuple[int, int, list[str]]:
        """Re-send parked batches (after fixing a token or creating the database), oldest first.

        A batch that lands is removed from the table; one refused again stays, with its new message.
        Returns (batches sent, points sent, errors). Re-sending is safe: points keep their timestamps.
        """
        letters = sorted(self.store.dead_letters(limit=1_000_000, ids=ids), key=lambda d: d.id)
        batches = points = 0
        errors: list[str] = []
        for d in letters:
            try:
                self.sink.send(d.lines)
            except SinkError as e:
                errors.append(f"batch {d.id}: {e.message}")
                if e.retryable:
                    break
                continue
            self.store.delete_dead_letter(d.id)
            batches += 1
            points += len(d.lines)
        if batches:
            log.warning("re-sent dead-lettered batches", extra=kv(batches=batches, points=points,
                                                                 url=self.sink.url))
        return batches, points, errors

    # -- state logging: once per change, not per attempt --------------------------------------
    def health(self) -> str | None:
        """None while forwarding works; else what fails, since when, and how much waits (for /healthz)."""
        if not self.failures:
            return None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._failing_since or time.time()))
        try:
            backlog = f"{self.store.backlog():,} points kept locally"
        except Exception:  # noqa: BLE001 - the store's own failure is reported as the store part
            backlog = "backlog unknown"
        return (f"InfluxDB at {self.sink.url} failing since {since} ({self._last_cause or 'error'}: "
                f"{self._last_message}); {backlog}, retrying")

    def _note_failure(self, e: SinkError) -> None:
        self.failures += 1
        self._last_message = e.message
        if self._failing_since is None:
            self._failing_since = time.time()
        self.store.set_meta("last_error", f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {e.message}")
        if e.cause != self._last_cause:
            self._last_cause = e.cause
            log.error(
                f"forwarding to InfluxDB paused ({e.cause}): {e.message}; retrying with backoff, data kept locally",
                extra=kv(url=self.sink.url, database=self.sink.database, cause=e.cause, status=e.status),
            )

    def _note_success(self, sent: int) -> None:
        if self._last_cause is not None:
            log.warning(
                "forwarding to InfluxDB resumed",
                extra=kv(url=self.sink.url, after_failures=self.failures, backlog=self.store.backlog()),
            )
        self._last_cause = None
        self._failing_since = None
        self.failures = 0
        if sent:
            self.store.set_meta("last_ok_ns", str(time.time_ns()))

    # -- loops -------------------------------------------------------------------------------
    def next_delay(self) -> float:
        return backoff_delay(self.failures, self.backoff_base_s, self.backoff_cap_s, self._rng)

    def drain(self, stop_event: threading.Event | None = None, max_batches: int | None = None) -> ForwardResult:
        """Send batches until the backlog is empty, an error occurs, or ``stop_event`` is set.

        The next batch is read and formatted in a helper thread while the current one is on the wire; it is
        used only if the cursor then stands exactly where that read started, so ordering and the cursor
        rules are those of :meth:`forward_once`.
        """
        sent = dead = batches = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward-prefetch") as pool:
            ahead: tuple[int, Future[list[tuple[int, str]]]] | None = None
            while True:
                cursor = self.store.cursor()
                if ahead is not None and ahead[0] == cursor:
                    rows = ahead[1].result()
                else:
                    rows = self.store.lines_after(cursor, self.batch_size)
                ahead = (rows[-1][0], pool.submit(self.store.lines_after, rows[-1][0], self.batch_size)) if rows \
                    else None
                r = self._forward(rows)
                sent += r.sent
                dead += r.dead_lettered
                batches += 1
                done = r.error is not None or r.backlog == 0 or (stop_event is not None and stop_event.is_set())
                if done or (max_batches is not None and batches >= max_batches):
                    return ForwardResult(sent, dead, r.backlog, r.error)

    def run(self, stop_event: threading.Event) -> None:
        """Forward until ``stop_event`` is set: drain, then idle; back off with jitter while InfluxDB fails."""
        log.info("forwarder started", extra=kv(url=self.sink.url, database=self.sink.database,
                                               backlog=self._backlog()))
        while not stop_event.is_set():
            try:
                r = self.drain(stop_event)
            except sqlite3.Error as e:  # the store itself (damaged, locked): said once, /healthz names the store
                if self._last_message != f"cannot read the store: {e}":
                    log.error("forwarding paused: cannot read the store; data stays where it is",
                              extra=kv(error=str(e)))
                self.failures += 1
                self._last_message = f"cannot read the store: {e}"
                self._failing_since = self._failing_since or time.time()
                stop_event.wait(self.next_delay())
                continue
            except Exception:  # a bug must not kill the thread silently; log and retry
                log.exception("forwarder iteration failed")
                self.failures += 1
                self._last_message = "internal error (see the log)"
                self._failing_since = self._failing_since or time.time()
                stop_event.wait(self.next_delay())
                continue
            if r.error is not None:
                stop_event.wait(self.next_delay())
            else:
                stop_event.wait(self.idle_s)
        log.info("forwarder stopped", extra=kv(backlog=self._backlog()))

    def _backlog(self) -> int | None:
        """For log lines: None when the store cannot answer (its failure is reported elsewhere)."""
        try:
            return self.store.backlog()
        except sqlite3.Error:
            return None
