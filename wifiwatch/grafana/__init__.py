"""Grafana: the dashboards as code (``dashboards``) and uploading them (``push``); no collector imports."""
