"""Visitor figures from sessions (issue 24): people, not associations, with small cells suppressed.

Stages, one way: ``cube`` streams sessions (core.visitors) one JST day at a time into counts per AP, site, area and
city by hour, day and month (memory bounded by one day's devices); ``suppress`` hides every cell of fewer than
``[visitors] k_min`` devices and the cells that would give it away by subtraction; ``rows``, ``opendata``,
``section`` and ``events`` only read the suppressed cube. Nothing below a view suppresses on its own, so no view
can forget to.
"""
