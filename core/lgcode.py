"""全国地方公共団体コード (local government codes): five digits plus the standard's check digit.

The check digit (検査数字) is modulus 11 with weights 6, 5, 4, 3, 2 over the five digits: it is the
last digit of ``11 - (sum mod 11)``, so remainder 0 gives 1 and remainder 1 gives 0.
Kashima City, Ibaraki: 08222 -> 082228. Prefecture names follow JIS X 0401 (codes 01..47).
"""

from __future__ import annotations

WEIGHTS = (6, 5, 4, 3, 2)

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)


def _digits(code: str, n: int) -> list[int]:
    if len(code) != n or not code.isascii() or not code.isdigit():
        raise ValueError(f"'{code}' is not {n} ASCII digits")
    return [int(c) for c in code]


def check_digit(code5: str) -> str:
    """The check digit of a five-digit code (raises ValueError unless ``code5`` is five digits)."""
    total = sum(w * d for w, d in zip(WEIGHTS, _digits(code5, 5), strict=True))
    return str((11 - total % 11) % 10)


def is_valid(code6: str) -> bool:
    try:
        return check_digit(code6[:5]) == code6[5:] and len(code6) == 6 and code6.isdigit()
    except ValueError:
        return False


def normalize(code: str) -> str:
    """A six-digit code from five digits (check digit added) or six (check digit verified)."""
    code = code.strip()
    if len(code) == 5:
        return code + check_digit(code)
    _digits(code, 6)
    expected = check_digit(code[:5])
    if code[5] != expected:
        raise ValueError(f"check digit of '{code}' should be {expected} ('{code[:5]}{expected}')")
    return code


def prefecture_of(code: str) -> str:
    """The prefecture a code belongs to (its first two digits, JIS X 0401)."""
    tens, ones = _digits(code[:2], 2)
    n = tens * 10 + ones
    if not 1 <= n <= len(PREFECTURES):
        raise ValueError(f"'{code[:2]}' is not a prefecture code (01..47)")
    return PREFECTURES[n - 1]
