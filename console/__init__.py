"""The web console: the service in a browser for general affairs, commerce and tourism, and whoever is on duty.

A layer above analytics and maps, beside the CLI: it reads the store and the alert tables, calls the
planner and the map, and writes only acknowledgements, maintenance windows, the rota, scenarios, users
and the audit log. Served by the daemon (``wifiwatch run``) or alone (``wifiwatch web``).
"""
