"""Open data: the local government code's check digit, the 公衆無線LANアクセスポイント一覧 export, the importer
(round trip, line-numbered problems, Shift_JIS, fuzzing) and the CLI, including monthly usage from a store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics.opendata import (
    APPROXIMATE,
    COLUMNS,
    USAGE_COLUMNS,
    OpenDataError,
    read_sites,
    site_rows,
    to_csv,
    to_toml,
    usage_rows,
)
from analytics.synthetic import synthetic_history
from analytics.tables import usage_rows as table_usage_rows
from core.config import ConfigError, load_config, parse_config
from core.escape import formula_like
from core.inventory import Inventory, Site, StoreSettings
from core.lgcode import WEIGHTS, check_digit, is_valid, normalize, prefecture_of
from core.store.sqlite_store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "config" / "sites.toml"
INV = load_config(SAMPLE)
KEPT = ("id", "name_ja", "name_en", "name_kana", "lat", "lon", "address", "location_approximate")


# -- 全国地方公共団体コード --------------------------------------------------------------------------
@pytest.mark.parametrize("code5, code6", [
    ("08222", "082228"),  # 鹿嶋市 (Kashima City, Ibaraki)
    ("13101", "131016"),  # 千代田区
    ("13104", "131041"),  # 新宿区: remainder 0 -> check digit 1
    ("13113", "131130"),  # 渋谷区: remainder 1 -> check digit 0
    ("01100", "011002"),  # 札幌市
    ("01101", "011011"),  # 札幌市中央区: remainder 0
])
def test_known_codes(code5: str, code6: str) -> None:
    assert normalize(code5) == code6 and normalize(code6) == code6 and is_valid(code6)


def test_kashima_prefecture() -> None:
    assert prefecture_of("082228") == "茨城県" and prefecture_of("131130") == "東京都"


five = st.text("0123456789", min_size=5, max_size=5)


@given(five)
def test_normalised_codes_validate(code5: str) -> None:
    code6 = normalize(code5)
    assert code6[:5] == code5 and is_valid(code6)
    assert not any(is_valid(code5 + d) for d in "0123456789" if d != code6[5])


@given(five, st.integers(0, 4), st.integers(1, 9))
def test_a_single_wrong_digit_is_caught_except_the_remainder_0_10_pair(code5: str, pos: int, delta: int) -> None:
    """Mod 11 with weights 2..6 changes the remainder for every single-digit error; the standard's "last digit of
    11 - r" then maps remainders 0 and 10 to the same check digit, the only case that slips through."""
    wrong = code5[:pos] + str((int(code5[pos]) + delta) % 10) + code5[pos + 1:]

    def rem(c: str) -> int:
        return sum(w * int(d) for w, d in zip(WEIGHTS, c, strict=True)) % 11

    assert rem(wrong) != rem(code5)
    if {rem(wrong), rem(code5)} != {0, 10}:
        assert not is_valid(wrong + check_digit(code5))


@given(st.text(max_size=8))
def test_bad_codes_raise_value_error_only(text: str) -> None:
    try:
        out = normalize(text)
    except ValueError:
        return
    assert is_valid(out)


def test_inventory_checks_the_check_digit() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config('city_ja = "鹿嶋市"\nmunicipality_code = "082220"\n', "x.toml")
    assert str(e.value) == "x.toml:2: municipality_code: check digit of '082220' should be 8 ('082228')"
    assert parse_config('municipality_code = "08222"\n').municipality_code == "082228"


# -- export -----------------------------------------------------------------------------------------
def test_export_is_the_published_dataset() -> None:
    rows, warnings = site_rows(INV)
    data = to_csv(rows, COLUMNS)
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(table[0]) == COLUMNS and len(table) == 1 + len(INV.sites) and warnings == []
    first = dict(zip(COLUMNS, table[1], strict=True))
    assert first["都道府県コード又は市区町村コード"] == "082228" and first["都道府県名"] == "茨城県"
    assert first["市区町村名"] == "鹿嶋市" and first["名称"] == "大町通り" and first["名称_カナ"] == "オオマチドオリ"
    # Public data: no AP management address, no uplink, no credential reference.
    text = data.decode("utf-8-sig")
    for _, ap in INV.aps():
        assert ap.host not in text and ap.id not in text
    assert "env:" not in text and "127.0." not in text


def test_export_warns_when_a_required_cell_is_empty() -> None:
    inv = INV.model_copy(update={"sites": [INV.sites[0].model_copy(update={"name_kana": "", "address": ""})]})
    _, warnings = site_rows(inv)
    assert warnings == ["site 'omachi': 名称_カナ is required by the dataset but empty",
                        "site 'omachi': 住所 is required by the dataset but empty"]


def test_export_refuses_characters_shift_jis_lacks() -> None:
    rows, _ = site_rows(INV)
    rows[0]["名称"] = "髙🍜"
    with pytest.raises(OpenDataError) as e:
        to_csv(rows, COLUMNS, "cp932")
    assert "🍜" in e.value.text("en") and "UTF-8" in e.value.text("en")


# -- round trip -------------------------------------------------------------------------------------
def _kept(s: Site) -> tuple[object, ...]:
    return tuple(getattr(s, k) for k in KEPT)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp932"])
def test_round_trip_of_the_sample(encoding: str) -> None:
    rows, _ = site_rows(INV)
    result = read_sites(to_csv(rows, COLUMNS, encoding), "sites.csv")
    assert result.problems == []
    assert [_kept(i.site) for i in result.sites] == [_kept(s) for s in INV.sites]
    # The printed TOML is what the user pastes: it parses to the same sites.
    back = [Site.model_validate(d) for d in tomllib.loads(to_toml(result.sites))["sites"]]
    assert [_kept(s) for s in back] == [_kept(s) for s in INV.sites]


def test_pasted_toml_makes_a_valid_inventory() -> None:
    sites = [s.model_copy(update={"id": f"new-{s.id}"}) for s in INV.sites]
    rows, _ = site_rows(INV.model_copy(update={"sites": sites}))
    toml = to_toml(read_sites(to_csv(rows, COLUMNS), "x.csv").sites)
    inv = parse_config(SAMPLE.read_text(encoding="utf-8") + "\n" + toml, "pasted.toml")
    assert [s.id for s in inv.sites] == [s.id for s in INV.sites] + [s.id for s in sites]


# Names are one line (check-config refuses line breaks) and do not start like a formula (=, +, -, @: the
# exporter neutralises those with a quote, so they do not come back unchanged; tests/test_output_escaping.py).
name = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=12).filter(
    lambda t: not formula_like(t))
sites_strategy = st.lists(
    st.builds(
        dict,
        id=st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
        name_ja=st.builds(lambda a, b: f"{a}, \"{b}\" {a}", name, name),  # commas and quotes
        name_en=name,
        name_kana=st.text("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガパー",
                          max_size=10),
        lat=st.floats(20, 46), lon=st.floats(122, 154),
        address=name,
        location_approximate=st.booleans(),
    ),
    max_size=6, unique_by=lambda d: d["id"],
)


@settings(max_examples=60, deadline=None)
@given(sites_strategy)
def test_round_trip_property(sites: list[dict[str, object]]) -> None:
    inv = Inventory(sites=[Site(kind="park", **s) for s in sites])  # type: ignore[arg-type]
    rows, _ = site_rows(inv)
    result = read_sites(to_csv(rows, COLUMNS), "p.csv")
    assert result.problems == []
    assert [_kept(i.site) for i in result.sites] == [_kept(s) for s in inv.sites]
    back = tomllib.loads(to_toml(result.sites)).get("sites", [])
    assert [_kept(Site.model_validate(d)) for d in back] == [_kept(s) for s in inv.sites]


# -- problems, with line numbers --------------------------------------------------------------------
BAD = (
    "名称,名称_カナ,住所,緯度,経度,NO\r\n"      # 1 header (subset of the columns, any order)
    "良い公園,イイコウエン,鹿嶋市1,35.9,140.6,park-a\r\n"  # 2 fine
    ",ナシ,鹿嶋市2,35.9,140.6,\r\n"            # 3 no name
    "\"改行\nのある名前\",,,35.9,140.6,x\r\n"   # 4-5 fine: a quoted line break spans two lines
    "北緯,,,35.9,abc,\r\n"                     # 6 経度 not a number
    "逆,,,140.6,35.9,\r\n"                     # 7 swapped
    "遠い,,,10.5,140.6,\r\n"                   # 8 outside Japan
    "列不足,,,35.9\r\n"                         # 9 wrong column count
    "\r\n"                                       # 10 blank: ignored
    "重複,,,35.9,140.6,PARK-A\r\n"              # 11 id already on line 2
    "全角,,,３５．９,１４０．６,\r\n"            # 12 fine: full-width digits
)


def test_problems_name_their_line_and_column() -> None:
    r = read_sites(BAD.encode("cp932"), "bad.csv")
    assert r.encoding == "Shift_JIS (CP932)"
    assert [(p.line, p.column, p.key) for p in r.problems] == [
        (3, "名称", "no_name"), (6, "経度", "not_decimal"), (7, "緯度", "swapped"), (8, "緯度", "invalid"),
        (9, "(row)", "width"), (11, "NO", "dup_id")]
    assert [(i.line, i.site.id, i.site.lat) for i in r.sites] == [(2, "park-a", 35.9), (4, "x", 35.9),
                                                                  (12, "site-12", 35.9)]
    assert str(r.problems[3]) == "bad.csv:8: 緯度: invalid value: lat 10.5 is outside Japan (20.0..46.0)"
    assert r.problems[4].text("ja") == "bad.csv:9: (row): 4 列あります（見出し行は 6 列）"


@pytest.mark.parametrize("data, where, key", [
    (b"", "e.csv", "empty"),
    (b"\r\n\r\n", "e.csv", "empty"),
    ("名称,住所\r\nA,B\r\n".encode(), "e.csv:1", "missing_columns"),
    ("名称,緯度,経度,名称\r\n".encode(), "e.csv:1", "dup_column"),
    (b"\xff\xfe\x00\x00\x80", "e.csv", "binary"),
    (b"\x80\x80\xff", "e.csv", "binary"),  # CP932 decodes it, to C1 control characters
    (b"\x82\xff", "e.csv", "decode"),
    (b"\xef\xbb\xbf\xff", "e.csv", "bad_utf8"),
    ('名称,緯度,経度\r\n"A,35,140\r\n'.encode(), "e.csv:2", "malformed"),
])
def test_file_level_errors(data: bytes, where: str, key: str) -> None:
    with pytest.raises(OpenDataError) as e:
        read_sites(data, "e.csv")
    assert (e.value.where, e.value.key) == (where, key)


header = st.sampled_from([",".join(COLUMNS), "名称,緯度,経度", "ID,名称,経度,緯度,所在地_連結表記"])
cell = st.one_of(st.text(max_size=8), st.sampled_from(["35.9", "140.6", "", '"', "１４０", "nan", "1e3", "-0"]))
csv_text = st.builds(lambda h, rows: h + "\r\n" + "\r\n".join(",".join(r) for r in rows), header,
                     st.lists(st.lists(cell, max_size=20), max_size=8))


@settings(max_examples=300, deadline=None)
@example("名称,緯度,経度\rx,abc,140\r".encode())  # lone CRs: found by this test in CI
@given(st.one_of(st.binary(max_size=300),
                 st.builds(lambda t, e: t.encode(e, errors="replace"), csv_text, st.sampled_from(["utf-8", "cp932"]))))
def test_fuzz_importer_raises_only_its_own_error(data: bytes) -> None:
    try:
        r = read_sites(data, "f.csv")
    except OpenDataError as e:
        assert e.text("ja") and e.text("en")
        return
    lines = len(re.findall(rb"\r\n|\r|\n", data)) + 1  # a lone CR ends a line too (old Mac files, csv)
    assert all(1 <= p.line <= lines and p.text("ja") and p.text("en") for p in r.problems)
    assert all(1 <= i.line <= lines for i in r.sites)
    parsed = tomllib.loads(to_toml(r.sites))  # whatever came in, the printed TOML is valid
    assert len(parsed.get("sites", [])) == len(r.sites)


# -- CLI and usage ----------------------------------------------------------------------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wifiwatch.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_cli_import_reports_lines_and_never_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD.encode("cp932"))
    r = _cli("opendata", "import", str(bad), "--out", str(tmp_path / "s.toml"), cwd=ROOT)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{bad}:3: 名称: 空です" in r.stderr and f"{bad}:11: NO: ID 'park-a' は 2 行目" in r.stderr
    assert len(tomllib.loads((tmp_path / "s.toml").read_text(encoding="utf-8"))["sites"]) == 3
    (tmp_path / "bin.csv").write_bytes(b"\x82\xff")
    r = _cli("opendata", "import", str(tmp_path / "bin.csv"), "--lang", "en", cwd=ROOT)
    assert r.returncode == 2 and "neither UTF-8 nor Shift_JIS" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def store_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("od")
    end = dt.datetime(2026, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    with SqliteStore(d / "s.sqlite3", StoreSettings(min_free_mb=0)) as store:
        store.write(list(synthetic_history(INV, end - dt.timedelta(days=31), end, seed=5)))
    cfg = d / "sites.toml"
    cfg.write_text(SAMPLE.read_text(encoding="utf-8").replace('path = "var/wifiwatch.sqlite3"',
                                                              f'path = "{d / "s.sqlite3"}"'), encoding="utf-8")
    return cfg


def test_usage_export_matches_the_report_and_holds_no_device_data(store_config: Path) -> None:
    inv = load_config(store_config)
    out = store_config.parent / "usage.csv"
    r = _cli("opendata", "export", "--usage", "--month", "2026-10", "--out", str(out), "-c", str(store_config),
             "--allow-simulated", cwd=store_config.parent)  # the store holds the demo's simulated history
    assert r.returncode == 0, r.stderr
    table = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")))
    assert tuple(table[0]) == USAGE_COLUMNS and [t["NO"] for t in table] == [s.id for s in inv.sites]
    with SqliteStore(Path(inv.store.path), inv.store) as store:
        from analytics.monthly import month_period

        report = {r["id"]: r for r in table_usage_rows(inv, store, month_period("2026-10")) if r["level"] == "site"}
        assert usage_rows(inv, store, "2026-10")[0]["年月"] == "2026-10"
    for t in table:
        assert float(t["延べ接続時間_人時"]) == report[t["NO"]]["client_hours"] > 0
        assert float(t["受信量_GB"]) == report[t["NO"]]["rx_gb"] and 0 < float(t["稼働率_%"]) <= 100
        # the site's peak as the report has it: its APs' concurrent hourly sum, not its busiest AP's peak
        assert float(t["最大同時接続数"]) == report[t["NO"]]["peak_clients"]
        assert float(t["平均同時接続数"]) == report[t["NO"]]["mean_clients"]
    text = out.read_text(encoding="utf-8-sig")
    assert not any(ap.host in text or ap.id in text for _, ap in inv.aps())


def test_cli_export_then_import_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "wifi.csv"
    r = _cli("opendata", "export", "--out", str(out), "--encoding", "cp932", "-c", str(SAMPLE), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("opendata", "import", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    back = [Site.model_validate(d) for d in tomllib.loads(r.stdout)["sites"]]
    assert [_kept(s) for s in back] == [_kept(s) for s in INV.sites]
    assert APPROXIMATE in out.read_bytes().decode("cp932")
