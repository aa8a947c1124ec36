"""Resident ID numbers (居民身份证号码, GB 11643-1999) and masking of personal data for display."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from ruyi.errors import InvalidResidentId

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"

# First two digits: the province-level division codes of GB/T 2260 (plus 83 used on residence permits
# of Taiwan residents). A number outside these cannot be a real one.
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_EARLIEST_BIRTH_YEAR = 1880


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str
    """The normalised 18 characters (a lower-case ``x`` becomes ``X``)."""
    region: str
    birth_date: date
    sex: Sex

    @property
    def masked(self) -> str:
        return mask_id(self.number)

    def __repr__(self) -> str:  # never put the full number into logs or tracebacks
        return f"ResidentId({self.masked})"


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_resident_id(text: str) -> ResidentId:
    """Validate an 18-character resident ID number and derive its birth date and sex.

    Raises :class:`InvalidResidentId` whose code says what is wrong: ``id.length``, ``id.characters``,
    ``id.region``, ``id.birth_date`` or ``id.check_char``.
    """
    number = text.strip().upper()
    if len(number) != 18:
        raise InvalidResidentId.one(
            "id.length",
            f"身份证号码应为18位，实际为{len(number)}位",
            f"an ID number has 18 characters, this one has {len(number)}",
        )
    body, last = number[:17], number[17]
    if not body.isascii() or not body.isdigit() or not (last.isdigit() or last == "X"):
        raise InvalidResidentId.one(
            "id.characters",
            "身份证号码前17位应为数字，最后一位为数字或X",
            "the first 17 characters must be digits and the last a digit or X",
        )
    if int(body[:2]) not in _PROVINCES or body[2:6] == "0000":
        raise InvalidResidentId.one(
            "id.region",
            f"地区码 {body[:6]} 不是有效的行政区划代码",
            f"region code {body[:6]} is not a valid administrative division code",
        )
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < _EARLIEST_BIRTH_YEAR:
        raise InvalidResidentId.one(
            "id.birth_date",
            f"出生日期 {body[6:14]} 不是有效日期",
            f"birth date {body[6:14]} is not a real date",
        )
    expected = check_char(body)
    if last != expected:
        raise InvalidResidentId.one(
            "id.check_char",
            "校验码不正确，请核对号码是否抄错",
            "the check character does not match; the number was probably mistyped",
        )
    sex = Sex.MALE if int(body[16]) % 2 == 1 else Sex.FEMALE
    return ResidentId(number=number, region=body[:6], birth_date=born, sex=sex)


def make_resident_id(region: str, birth_date: date, sequence: int, sex: Sex) -> str:
    """Compose a number with a correct check character (for demo data and tests; never for real people).

    ``sequence`` is the 0..99 order code; the sex digit is chosen to match ``sex``.
    """
    if not (len(region) == 6 and region.isdigit()) or not 0 <= sequence <= 99:
        raise ValueError("region must be 6 digits and sequence 0..99")
    sex_digit = (sequence % 5) * 2 + (1 if sex is Sex.MALE else 0)
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:02d}{sex_digit}"
    return first17 + check_char(first17)


def mask_id(number: str) -> str:
    """Keep at most the first 4 and the last 4 characters: 320102195001011234 -> 3201**********1234.

    Shorter strings (a partial number typed at the counter) keep less, so at least half is hidden.
    """
    n = len(number)
    keep = min(4, n // 4)
    return number[:keep] + "*" * (n - 2 * keep) + (number[n - keep :] if keep else "")


def mask_name(name: str) -> str:
    """Mask a name for receipts and the elder-facing display: 张三 -> 张*, 张三丰 -> 张*丰, 欧阳娜娜 -> 欧**娜."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
