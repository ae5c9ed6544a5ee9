"""Visitor session sources (issue 24): RADIUS accounting and syslog receivers, CSV imports, live counts.

Each source turns what a sender says (declared as data: ``senders/radius.toml``, ``syslog/*.toml``,
``formats/*.toml``) into core.visitors.model.VisitorSession rows; a device identifier is hashed by
core.visitors.keys the moment it is read and never stored or logged.
"""
