"""The virtual cards answer as the specifications say real cards do, not as our reader happens to ask.

A double that accepted what the reader sent (the 4-byte name ``SSSE``) hid a reader that no real social security
card answers; these tests pin the double to the card's published behaviour (sources named in terminal.virtual.vpcd).
"""

from __future__ import annotations

from functools import reduce

import pytest

from terminal.virtual.vpcd import (
    ATR_CONTACT,
    ATR_CONTACTLESS_A,
    ATR_RESIDENT_ID,
    ResidentIdCard,
    SocialSecurityCard,
    UidCard,
)

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
SELECT_EF05 = bytes.fromhex("00A4020002EF05")
SELECT_EF06 = bytes.fromhex("00A4000002EF06")


def _run(card: SocialSecurityCard, *apdus: str | bytes) -> list[bytes]:
    return [card.answer(bytes.fromhex(a) if isinstance(a, str) else a) or b"" for a in apdus]


def test_the_df_name_is_sx1_sh_social_security_in_gbk() -> None:
    assert SELECT_SSSE[5:] == "sx1.sh.社会保障".encode("gbk")


@pytest.mark.parametrize(
    "select",
    [
        bytes.fromhex("00A4040004") + b"SSSE",  # the 4-byte label is not the application's DF name
        bytes.fromhex("00A4040007") + b"sx1.sh.",  # nor is a part of it
        "00A404000FD15600000500" + "00" * 10,  # a PBOC application name
    ],
)
def test_selecting_anything_but_the_df_name_fails_with_6a82(select: str | bytes) -> None:
    card = SocialSecurityCard("A12345678")
    assert _run(card, select) == [b"\x6a\x82"]
    assert _run(card, SELECT_EF05) == [b"\x6a\x82"]  # and EF05 cannot be reached outside SSSE


def test_the_card_number_is_ef05_record_7_as_ascii() -> None:
    card = SocialSecurityCard("A12345678")
    select, fci, ef, record = _run(card, SELECT_SSSE, "00C0000015", SELECT_EF05, "00B207040B")
    assert select == b"\x61\x15" and fci[:2] == b"\x6f\x13" and fci[-2:] == b"\x90\x00"
    assert ef == b"\x90\x00"
    assert record == b"\x07\x09A12345678\x90\x00"


def test_read_record_status_words() -> None:
    card = SocialSecurityCard("A12345678")
    _run(card, SELECT_SSSE)
    assert _run(card, "00B207040B") == [b"\x69\x86"]  # no current EF yet
    _run(card, SELECT_EF05)
    assert _run(card, "00B2070400") == [b"\x6c\x0b"]  # wrong Le: the right one in SW2
    assert _run(card, "00B2090400") == [b"\x6a\x83"]  # no record 9
    assert _run(card, "00B207000B") == [b"\x6a\x86"]  # P2 other than "record P1 of the current EF"


def test_the_holder_file_needs_the_pin() -> None:
    card = SocialSecurityCard("A12345678", pin=b"\x12\x34\x56")
    _run(card, SELECT_SSSE, SELECT_EF06)
    assert _run(card, "00B2010414") == [b"\x69\x82"]  # security status not satisfied
    assert _run(card, "0020000003888888") == [b"\x63\xc2"]  # wrong PIN
    assert _run(card, "0020000003123456") == [b"\x90\x00"]
    (record,) = _run(card, "00B2010414")
    assert record[:2] == b"\x08\x12" and record[-2:] == b"\x90\x00"  # tag 08, the 18-character number


@pytest.mark.parametrize("atr", [ATR_CONTACTLESS_A, ATR_RESIDENT_ID])
def test_contactless_atrs_are_well_formed(atr: bytes) -> None:
    # PC/SC part 3: 3B 8n 80 01 <n historical bytes> TCK, TCK = XOR of T0 .. the last historical byte.
    assert atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01"
    assert len(atr) == 4 + (atr[1] & 0x0F) + 1
    assert reduce(lambda a, b: a ^ b, atr[1:]) == 0


def test_contact_atr_is_t0_without_tck() -> None:
    # ISO/IEC 7816-3: T0 = 6n (TB1, TC1 present, no TD1: T=0 only, so no TCK), n historical bytes.
    assert ATR_CONTACT[0] == 0x3B and ATR_CONTACT[1] >> 4 == 0x6
    assert len(ATR_CONTACT) == 2 + 2 + (ATR_CONTACT[1] & 0x0F)


def test_other_kinds_refuse_the_ssse_select() -> None:
    assert UidCard(b"\x04\x01\x02\x03").answer(SELECT_SSSE) == b"\x6e\x00"  # CLA 00 is not the reader's FF
    assert ResidentIdCard(bytes(8)).answer(SELECT_SSSE) == b"\x6d\x00"
