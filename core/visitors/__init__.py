"""Visitor sessions: who came (as keyed hashes only), where, when and for how long.

``model`` is the one record every source writes and every figure reads; ``store`` keeps it in the
project's SQLite file; ``keys`` turns a device identifier into HMAC-SHA-256 the moment it is read.
"""
