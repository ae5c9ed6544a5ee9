"""The daemon's monthly report job: last month's report, written once into ``[reports] dir``/YYYY-MM/, then mailed.

The daemon runs it every night shortly after midnight JST, so the report appears on the 1st and a daemon that
was down on the 1st catches up the next night. A month whose folder exists is never rewritten (figures sent to
the city stay as sent); the report is written to a temporary folder and renamed into place, so a crash
mid-way leaves no half report that would block the next try. Once written, it is e-mailed to
``[reports] email_to`` (if set); a mail that fails is logged and not retried, the files stay where they are.
A month without any data writes nothing and logs so (the next night tries again).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path

from analytics.coverage import NoData
from analytics.export import PdfError
from analytics.monthly import FORMATS, write_monthly
from analytics.usage import JST
from core.inventory import Inventory
from core.logs import kv
from core.schema import PointReader
from core.secrets import SecretResolver

log = logging.getLogger("wifiwatch.reports")


def previous_month(now: dt.datetime) -> str:
    """YYYY-MM of the month before ``now`` in Japan time (an aware datetime)."""
    first = now.astimezone(JST).replace(day=1, hour=12)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def write_previous_month(inv: Inventory, reader: PointReader, now: dt.datetime,
                         resolver: SecretResolver | None = None) -> list[Path]:
    """Write last month's report in every ``[reports] langs`` and mail it; returns the files, or [] if it already
    exists or the month holds no data."""
    month = previous_month(now)
    base = Path(inv.reports.dir)
    target = base / month
    if target.exists():
        return []
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{month}-", dir=base))
    try:
        for lang in inv.reports.langs:
            try:
                write_monthly(inv, reader, month, tmp, lang, now=now.timestamp())
            except PdfError as e:  # the HTML, CSV and xlsx are written; a missing browser costs only the PDF
                log.warning("monthly report without PDF", extra=kv(month=month, error=str(e)))
                write_monthly(inv, reader, month, tmp, lang, now=now.timestamp(),
                              formats=tuple(f for f in FORMATS if f != "pdf"))
        tmp.rename(target)
    except NoData:
        shutil.rmtree(tmp, ignore_errors=True)
        log.warning("no monthly report: the month holds no data", extra=kv(month=month))
        return []
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(target.iterdir())
    log.info("monthly report written", extra=kv(month=month, dir=str(target), files=len(files)))
    if inv.reports.email_to:
        _mail(inv, resolver or SecretResolver(inv.secrets_file), month, files)
    return files


def _mail(inv: Inventory, resolver: SecretResolver, month: str, files: list[Path]) -> None:
    from analytics.report_mail import MailError, mail_report

    lang = inv.reports.langs[0]
    html = next((f for f in files if f.name == f"monthly-{month}-{lang}.html"), None)
    subject, body = summary(inv, month, lang, html)
    try:
        mail_report(inv, resolver, subject, body, [f for f in files if f"-{lang}." in f.name])
    except MailError as e:
        log.error("monthly report not mailed", extra=kv(month=month, error=str(e)))


ATTACHED = {"ja": {"attached": "添付: PDF（印刷用）と Excel ファイル"},
            "en": {"attached": "Attached: PDF and Excel workbook"}}


def summary(inv: Inventory, month: str, lang: str, html: Path | None) -> tuple[str, str]:
    """Subject and text of the mail: the report's title and its notices (参考値, 模擬データ, 集計中)."""
    import re

    t = ATTACHED[lang]
    text = html.read_text(encoding="utf-8") if html else ""
    title = re.search(r"<title>(.*?)</title>", text)
    subject = _unescape(title[1]) if title else month
    notes = [_unescape(x) for x in re.findall(r'<p class="(?:sim|prog|note)"[^>]*>(.*?)</p>', text)]
    lines = [subject, ""]
    period = re.search(r"<p><b>.*?</p>", text)
    if period:
        lines.append(_unescape(re.sub(r"<[^>]+>", "", period[0])))
    lines += notes
    lines += ["", t["attached"]]
    return subject, "\n".join(lines)


def _unescape(s: str) -> str:
    import html

    return html.unescape(s)
