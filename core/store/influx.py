"""Build a sink or an InfluxQL reader from the inventory's [influxdb] settings and resolved secrets."""

from __future__ import annotations

from core.inventory import InfluxSettings
from core.secrets import SecretResolver
from core.store.influx_v1 import InfluxV1Sink
from core.store.influx_v2 import InfluxV2Sink
from core.store.influxql import InfluxQLReader


def _creds(settings: InfluxSettings, resolver: SecretResolver) -> tuple[str | None, str | None, str | None]:
    token = resolver.resolve_optional(settings.token)
    user = resolver.resolve_optional(settings.username)
    password = resolver.resolve_optional(settings.password)
    return (
        token.reveal() if token else None,
        user.reveal() if user else None,
        password.reveal() if password else None,
    )


def make_sink(settings: InfluxSettings, resolver: SecretResolver) -> InfluxV1Sink | InfluxV2Sink:
    """v1: POST /write (1.x, or 2.x/3.x compatibility); v2: influxdb-client, token auth. Raises SecretError."""
    token, user, password = _creds(settings, resolver)
    if settings.api == "v2":
        return InfluxV2Sink(settings.url, settings.database, org=settings.org, token=token, username=user,
                            password=password, timeout_s=settings.timeout_s, verify_tls=settings.verify_tls)
    return InfluxV1Sink(settings.url, settings.database, username=user, password=password, token=token,
                        timeout_s=settings.timeout_s, verify_tls=settings.verify_tls)


def make_reader(settings: InfluxSettings, resolver: SecretResolver) -> InfluxQLReader:
    """InfluxQL over /query for either api setting (2.x needs a DBRP mapping for the bucket)."""
    token, user, password = _creds(settings, resolver)
    return InfluxQLReader(settings.url, settings.database, username=user, password=password, token=token,
                          timeout_s=max(settings.timeout_s, 30.0), verify_tls=settings.verify_tls)
