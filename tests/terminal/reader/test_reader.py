"""The card reader on the real PC/SC stack: a private pcscd with the vpcd driver, virtual cards from the harness,
and terminal.devices.pcsc_reader's status-change loop watching the reader."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable

import pytest

from terminal.devices.cards import (
    DEFAULT_KIND_ORDER,
    CardError,
    CardErrorCode,
    CardKey,
    CardKind,
    CardPresent,
    CardTapped,
    ReaderState,
    ReaderStatus,
    card_key_digest,
)
from terminal.devices.pcsc_reader import PcscCardReader
from terminal.virtual.pcscd import PrivatePcscd
from terminal.virtual.vpcd import (
    CardSlot,
    CombinedCard,
    GarbageCard,
    ResidentIdCard,
    SocialSecurityCard,
    UidCard,
    UnknownCard,
    VanishingCard,
    VirtualCard,
)
from tests.terminal.conftest import StartWatcher, Watcher

UID = bytes.fromhex("04A1B2C3D4E5F6")
ID_NUMBER = bytes.fromhex("0123456789ABCDEF")
SSC_NUMBER = "A12345678"

# SELECT by DF name "sx1.sh.社会保障" (GBK), as public reader code for the social security card sends it.
SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
READ_RECORD_7 = bytes.fromhex("00B207040B")
SELECT_EF05 = bytes.fromhex("00A4020002EF05")
GET_UID = bytes.fromhex("FFCA000000")
GET_ID_NUMBER = bytes.fromhex("0036000008")


def tapped(event: CardTapped | CardError) -> CardKey:
    assert isinstance(event, CardTapped), f"expected a card key, got {event!r}"
    return event.key


def failed(event: CardTapped | CardError) -> CardErrorCode:
    assert isinstance(event, CardError), f"expected a card error, got {event!r}"
    return event.code


def read_one(watcher: Watcher, vcard: CardSlot, card: VirtualCard) -> CardTapped | CardError:
    """Tap ``card``, wait for the result, take the card off again."""
    tap = vcard.tap(card)
    event = watcher.next_card_event()
    tap.remove()
    return event


# --- the card key ----------------------------------------------------------------------------------------------


def test_card_key_digest_is_hmac_sha256_of_kind_and_serial() -> None:
    expected = hmac.new(b"secret", b"uid:04A1B2C3D4E5F6", hashlib.sha256).hexdigest()
    assert card_key_digest(b"secret", "uid", "04A1B2C3D4E5F6") == expected
    assert card_key_digest(b"secret", "resident_id", "04A1B2C3D4E5F6") != expected
    assert card_key_digest(b"other secret", "uid", "04A1B2C3D4E5F6") != expected


def test_card_key_digest_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        card_key_digest(b"", "uid", "04A1B2C3D4E5F6")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"secret": b""}, "secret"),
        ({"secret": b"s", "kinds": []}, "at least one"),
        ({"secret": b"s", "kinds": ["uid", "uid"]}, "repeat"),
        ({"secret": b"s", "kinds": ["bank_card"]}, "bank_card"),
    ],
)
def test_reader_configuration_is_checked(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        PcscCardReader(**kwargs)  # type: ignore[arg-type]


def test_every_message_has_chinese_and_english() -> None:
    for code in CardErrorCode:
        error = CardError(code)
        assert error.zh and error.en and error.zh != error.en
        assert error.message() == error.zh and error.message("en") == error.en
    for state in ReaderState:
        status = ReaderStatus(state)
        assert status.zh and status.en and status.zh != status.en


# --- the three kinds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        (UidCard(UID), (CardKind.UID, "04A1B2C3D4E5F6")),
        (ResidentIdCard(ID_NUMBER), (CardKind.RESIDENT_ID, "0123456789ABCDEF")),
        (SocialSecurityCard(SSC_NUMBER), (CardKind.SOCIAL_SECURITY, SSC_NUMBER)),
    ],
    ids=["uid", "resident_id", "social_security"],
)
def test_each_kind_gives_its_card_key(
    watcher: Watcher, vcard: CardSlot, card_secret: bytes, card: VirtualCard, expected: tuple[CardKind, str]
) -> None:
    kind, serial = expected
    key = tapped(read_one(watcher, vcard, card))
    assert key == CardKey(kind, card_key_digest(card_secret, kind.value, serial))


def test_social_security_card_is_read_by_its_df_name_and_ef05_record_7(watcher: Watcher, vcard: CardSlot) -> None:
    tap = vcard.tap(SocialSecurityCard(SSC_NUMBER))
    tapped(watcher.next_card_event())
    # T=0: SELECT answers 6115 and the 21-byte FCI comes with GET RESPONSE; EF06 (the holder) is never touched.
    assert tap.apdus == [SELECT_SSSE, bytes.fromhex("00C0000015"), SELECT_EF05, READ_RECORD_7]


def test_social_security_card_answering_the_fci_at_once(watcher: Watcher, vcard: CardSlot) -> None:
    tap = vcard.tap(SocialSecurityCard(SSC_NUMBER, t0=False))  # T=1 / contactless: FCI with 9000, no 61xx
    assert tapped(watcher.next_card_event()).kind is CardKind.SOCIAL_SECURITY
    assert tap.apdus == [SELECT_SSSE, SELECT_EF05, READ_RECORD_7]


def test_social_security_card_read_follows_61xx_chains_and_6cxx(
    watcher: Watcher, vcard: CardSlot, card_secret: bytes
) -> None:
    # A card that hands out its FCI 8 bytes at a time (610D, 6105, 9000) and has an older 8-character card number:
    # READ RECORD with Le=0B is answered 6C0A, and the reader asks again with Le=0A.
    tap = vcard.tap(SocialSecurityCard("B1234567", chunk=8))
    key = tapped(watcher.next_card_event())
    assert key == CardKey(CardKind.SOCIAL_SECURITY, card_key_digest(card_secret, "social_security", "B1234567"))
    assert tap.apdus == [
        SELECT_SSSE,
        bytes.fromhex("00C0000015"),
        bytes.fromhex("00C000000D"),
        bytes.fromhex("00C0000005"),
        SELECT_EF05,
        READ_RECORD_7,
        bytes.fromhex("00B207040A"),
    ]


def test_the_first_reader_is_used_when_no_name_is_configured(
    start_watcher: StartWatcher, vcard: CardSlot, pcscd: PrivatePcscd
) -> None:
    watcher = start_watcher(reader_name=None)
    assert ReaderStatus(ReaderState.CONNECTED, pcscd.reader_name) in watcher.seen
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID


# --- kind order ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ([CardKind.UID, CardKind.RESIDENT_ID], CardKind.UID),
        ([CardKind.RESIDENT_ID, CardKind.UID], CardKind.RESIDENT_ID),
        (["social_security", "uid", "resident_id"], CardKind.SOCIAL_SECURITY),
    ],
)
def test_the_first_configured_kind_that_answers_wins(
    start_watcher: StartWatcher, vcard: CardSlot, kinds: list[CardKind | str], expected: CardKind
) -> None:
    # A card that answers as all three, as a contactless ID card on a reader that answers FF CA itself does.
    card = CombinedCard(UidCard(UID), ResidentIdCard(ID_NUMBER), SocialSecurityCard(SSC_NUMBER))
    watcher = start_watcher(kinds=kinds)
    assert tapped(read_one(watcher, vcard, card)).kind is expected


def test_kinds_are_tried_in_the_default_order_until_one_answers(watcher: Watcher, vcard: CardSlot) -> None:
    assert DEFAULT_KIND_ORDER == (CardKind.SOCIAL_SECURITY, CardKind.RESIDENT_ID, CardKind.UID)
    tap = vcard.tap(ResidentIdCard(ID_NUMBER))
    assert tapped(watcher.next_card_event()).kind is CardKind.RESIDENT_ID
    assert tap.apdus == [SELECT_SSSE, GET_ID_NUMBER]  # SSSE refused with 6D00, then the ID card number


def test_kinds_not_configured_are_not_tried(start_watcher: StartWatcher, vcard: CardSlot) -> None:
    watcher = start_watcher(kinds=[CardKind.UID])
    tap = vcard.tap(ResidentIdCard(ID_NUMBER))
    assert failed(watcher.next_card_event()) is CardErrorCode.UNKNOWN_CARD
    assert tap.apdus == [GET_UID]


# --- faults: each gives a clear error, and the next tap works -----------------------------------------------------


def test_unknown_card_is_reported_in_chinese(watcher: Watcher, vcard: CardSlot) -> None:
    tap = vcard.tap(UnknownCard())
    event = watcher.next_card_event()
    assert failed(event) is CardErrorCode.UNKNOWN_CARD
    assert isinstance(event, CardError) and "无法识别" in event.zh
    assert tap.apdus == [SELECT_SSSE, GET_ID_NUMBER, GET_UID]
    tap.remove()
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID


@pytest.mark.parametrize(
    "make_card",
    [
        lambda: VanishingCard(UidCard(UID)),  # gone at the first command
        lambda: VanishingCard(SocialSecurityCard(SSC_NUMBER, chunk=8), answered=2),  # in the middle of the FCI
        lambda: VanishingCard(SocialSecurityCard(SSC_NUMBER), answered=3),  # at READ RECORD
    ],
    ids=["first-apdu", "get-response", "read-record"],
)
def test_card_removed_mid_apdu_then_the_next_tap_works(
    watcher: Watcher, vcard: CardSlot, make_card: Callable[[], VanishingCard]
) -> None:
    tap = vcard.tap(make_card())
    assert failed(watcher.next_card_event()) is CardErrorCode.CARD_REMOVED
    assert tap.vanished
    assert tapped(read_one(watcher, vcard, SocialSecurityCard(SSC_NUMBER))).kind is CardKind.SOCIAL_SECURITY


@pytest.mark.parametrize(
    "card",
    [
        GarbageCard(b"\x90"),  # shorter than a status word
        GarbageCard(b"\x12\x34"),  # not a status word
        GarbageCard(b"\x04\xa1\x60\x00"),  # 60 is a procedure byte, not a status word
        ResidentIdCard(bytes.fromhex("010203")),  # 9000 with 3 bytes where 8 belong
        SocialSecurityCard(SSC_NUMBER, record=bytes.fromhex("0809") + b"A12345678"),  # wrong tag
        SocialSecurityCard(SSC_NUMBER, record=bytes.fromhex("0720") + b"A12345678"),  # length past the end
        SocialSecurityCard(SSC_NUMBER, record=bytes.fromhex("0709") + "A1234567é".encode("latin-1")),
    ],
    ids=["one-byte", "invalid-sw", "procedure-byte", "short-id-number", "wrong-tag", "long-tlv", "not-ascii"],
)
def test_garbage_answer_then_the_next_tap_works(watcher: Watcher, vcard: CardSlot, card: VirtualCard) -> None:
    assert failed(read_one(watcher, vcard, card)) is CardErrorCode.BAD_ANSWER
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID


def test_each_tap_is_read_once(watcher: Watcher, vcard: CardSlot) -> None:
    # Our own connect and disconnect change the reader's state too; they must not count as a new tap.
    first = vcard.tap(UidCard(UID))
    tapped(watcher.next_card_event())
    first.remove()
    tapped(read_one(watcher, vcard, ResidentIdCard(ID_NUMBER)))
    assert first.apdus == [SELECT_SSSE, GET_ID_NUMBER, GET_UID]
    # Each arrival is reported once (「正在读卡…」) and followed by its one read.
    assert [type(e) for e in watcher.seen if not isinstance(e, ReaderStatus)] == [CardPresent, CardTapped] * 2


# --- pcscd and the reader coming and going ------------------------------------------------------------------------


def test_pcscd_stopped_and_started_again(watcher: Watcher, vcard: CardSlot, pcscd: PrivatePcscd) -> None:
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID
    pcscd.stop()
    watcher.wait_status(ReaderState.PCSCD_DOWN)
    pcscd.start()
    assert watcher.wait_status(ReaderState.CONNECTED).reader == pcscd.reader_name
    assert tapped(read_one(watcher, vcard, ResidentIdCard(ID_NUMBER))).kind is CardKind.RESIDENT_ID


def test_pcscd_killed_and_restarted_at_once(watcher: Watcher, vcard: CardSlot, pcscd: PrivatePcscd) -> None:
    old_pid = pcscd.pid
    pcscd.restart(kill=True)
    assert pcscd.pid != old_pid
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID


def test_pcscd_killed_while_a_card_is_on_the_reader(watcher: Watcher, vcard: CardSlot, pcscd: PrivatePcscd) -> None:
    tap = vcard.tap(UidCard(UID))
    tapped(watcher.next_card_event())
    pcscd.stop(kill=True)
    assert tap.wait_gone(5.0)  # the card's connection went with the daemon
    pcscd.start()
    assert tapped(read_one(watcher, vcard, SocialSecurityCard(SSC_NUMBER))).kind is CardKind.SOCIAL_SECURITY


def test_watcher_started_while_pcscd_is_down(start_watcher: StartWatcher, vcard: CardSlot, pcscd: PrivatePcscd) -> None:
    pcscd.stop()
    watcher = start_watcher(wait_connected=False)
    watcher.wait_status(ReaderState.PCSCD_DOWN)
    pcscd.start()
    watcher.wait_status(ReaderState.CONNECTED)
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID


def test_reader_gone_and_back(watcher: Watcher, vcard: CardSlot, pcscd: PrivatePcscd) -> None:
    # pcscd 1.9 cannot drop a serial reader at run time, so the reader "unplugged" is pcscd coming back without it.
    pcscd.restart(with_reader=False)
    watcher.wait_status(ReaderState.NO_READER)
    pcscd.restart(with_reader=True)
    watcher.wait_status(ReaderState.CONNECTED)
    assert tapped(read_one(watcher, vcard, UidCard(UID))).kind is CardKind.UID


def test_a_reader_name_that_matches_nothing_means_no_reader(start_watcher: StartWatcher) -> None:
    watcher = start_watcher(reader_name="ACS ACR1281", wait_connected=False)
    assert watcher.wait_status(ReaderState.NO_READER) == ReaderStatus(ReaderState.NO_READER)


def test_run_returns_soon_after_stop(pcscd: PrivatePcscd, card_secret: bytes) -> None:
    stop = threading.Event()
    source = PcscCardReader(secret=card_secret, poll_seconds=0.2)
    thread = threading.Thread(target=source.run, args=(lambda event: None, stop))
    thread.start()
    stop.set()
    thread.join(2.0)
    assert not thread.is_alive()


# --- the raw serial never leaves the reader module ----------------------------------------------------------------


def test_no_raw_serial_in_any_event(watcher: Watcher, vcard: CardSlot) -> None:
    cards: list[VirtualCard] = [
        UidCard(UID),
        ResidentIdCard(ID_NUMBER),
        SocialSecurityCard(SSC_NUMBER),
        ResidentIdCard(ID_NUMBER[:5]),  # a bad answer that carries (part of) a number
        VanishingCard(SocialSecurityCard(SSC_NUMBER), answered=3),
    ]
    for card in cards:
        read_one(watcher, vcard, card)
    secrets = {
        UID.hex(),
        ID_NUMBER.hex(),
        ID_NUMBER[:5].hex(),
        SSC_NUMBER,
        *(" ".join(f"{b:02x}" for b in raw) for raw in (UID, ID_NUMBER)),
    }
    assert len(watcher.seen) >= len(cards)
    for event in watcher.seen:
        shown = (repr(event) + str(event)).lower()
        for secret in secrets:
            assert secret.lower() not in shown, f"{secret} shows in {event!r}"
