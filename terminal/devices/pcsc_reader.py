"""The PC/SC card reader: watch one reader for taps and turn each tapped card into a
:class:`~terminal.devices.cards.CardKey` (a :class:`~terminal.devices.cards.CardSource` on pcscd and pyscard).

**The raw serial never leaves this module.** :func:`card_key_digest` hashes ``f"{kind}:{serial}"`` with
HMAC-SHA256 under the terminal's card-key secret; the roster snapshot uses the same function, so a
terminal's disk holds no card numbers and no ID numbers. The serial strings hashed per kind are:

- ``uid``: the contactless UID from ``FF CA 00 00 00`` (answered by the reader for any ISO 14443 card),
  as upper-case hex, e.g. ``"04A1B2C3D4E5F6"``.
- ``resident_id``: the resident ID card's 8-byte physical card number from ``00 36 00 00 08``
  (ISO 14443-B), as upper-case hex (16 characters).
- ``social_security``: the social security card number. SELECT the SSSE application by its DF name
  ``"sx1.sh.社会保障"`` in GBK (``00 A4 04 00 0F 7378312E73682EC9E7BBE1B1A3D5CF``), SELECT EF05, the card
  data file (``00 A4 02 00 02 EF 05``), READ RECORD 07 of it (``00 B2 07 04 0B``: P2=04 reads record number
  P1 of the current EF; 0B = tag + length + 9 characters). The record is one TLV: tag ``07``, one length
  byte, then the card number in ASCII (9 characters; older cards have 8, answered 6C0A and read again);
  trailing spaces/NULs are dropped, it must be 1-32 characters of A-Z/0-9 and is hashed upper-case, e.g.
  ``"A12345678"``. EF06 (the holder: social security number = ID number, name) is never read: it needs
  the holder's PIN, and the terminal must not see the ID number. Sources: public reader code for the card
  (the DF name, EF05 record 07 with Le 0B, EF06 behind VERIFY) — see :mod:`terminal.virtual.vpcd`.

Card kinds are tried in the configured order and the first that answers wins. The default order tries
the social security card, then the resident ID card, then the UID: a real contactless reader answers
``FF CA`` itself for *any* card on it, so the UID must come last or it would shadow the other two.

Status words are checked here rather than by pyscard: ``61xx`` is followed by GET RESPONSE, ``6Cxx`` is
answered by resending with Le=xx, ``9000`` is success. Any other well-formed ISO 7816-4 status word
(``62xx``-``6Fxx``, ``9xxx``; notably 6A82 file not found, 6A86 wrong P1-P2, 6D00 INS and 6E00 CLA not
supported) means "this card is not of this kind": the next kind is tried, and when none is left the tap
ends in ``unknown_card``. A reply shorter than a status word, an invalid status word, or a success with
data of the wrong shape ends the tap in ``bad_answer`` at once (the card is misbehaving; asking it other
questions would not make its answers trustworthy). A reply with no bytes at all, or a PC/SC error that
says the card went away, ends it in ``card_removed``: through vpcd (and some readers) a card that vanishes
mid-command shows up as an empty reply rather than as an error.

The watcher uses a ``SCardGetStatusChange`` loop, not pyscard's ``CardMonitor``: ``CardMonitor``'s thread
dies when pcscd goes away. Here a dead context (pcscd stopped or restarted) is released and established
again, and a reader that disappears is waited for again, all without restarting the process.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable

from smartcard import scard

from ruyi.sync import card_key_digest
from terminal.devices.cards import (
    DEFAULT_KIND_ORDER,
    CardError,
    CardErrorCode,
    CardKey,
    CardKind,
    CardPresent,
    CardTapped,
    ReaderEvent,
    ReaderState,
    ReaderStatus,
)

__all__ = ["PcscCardReader"]

log = logging.getLogger(__name__)


# --- reading one card -----------------------------------------------------------------------------------


class _NotThisKind(Exception):
    """The card answered with a well-formed status word that says it is not of the kind tried."""


class _BadAnswer(Exception):
    """The card answered something that is not a valid answer."""


class _CardGone(Exception):
    """The card went away in the middle of the read."""


class _ReadFailed(Exception):
    """PC/SC failed for another reason (sharing violation, reader error ...)."""


class _ContextLost(Exception):
    """The PC/SC context is dead: pcscd stopped or restarted."""


Transmit = Callable[[bytes], bytes]

_SW_OK = (0x90, 0x00)
_GET_RESPONSE = bytes.fromhex("00C00000")
_MAX_GET_RESPONSE_ROUNDS = 16

_APDU_GET_UID = bytes.fromhex("FFCA000000")
_APDU_RESIDENT_ID_NUMBER = bytes.fromhex("0036000008")
# The social security card (sources: public reader code, see terminal.virtual.vpcd's SocialSecurityCard).
_SSSE_DF_NAME = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")  # "sx1.sh.社会保障" in GBK, fixed for every card
_APDU_SELECT_SSSE = bytes([0x00, 0xA4, 0x04, 0x00, len(_SSSE_DF_NAME)]) + _SSSE_DF_NAME  # SELECT by DF name
_APDU_SELECT_EF05 = bytes.fromhex("00A4020002EF05")  # SELECT EF05 (card data) under SSSE
_APDU_READ_RECORD_7 = bytes.fromhex("00B207040B")  # READ RECORD 07 of the current EF, Le = 2 + 9
_SSC_NUMBER_TAG = 0x07  # EF05 record n carries tag n; 07 is the card number
_SSC_NUMBER = re.compile(r"[A-Z0-9]{1,32}")


def _with_le(apdu: bytes, le: int) -> bytes:
    """``apdu`` (short form) with its Le set to ``le``, adding an Le field if it has none."""
    if len(apdu) <= 5:  # case 1 (header only) or case 2 (header + Le)
        return apdu[:4] + bytes([le])
    end_of_data = 5 + apdu[4]
    return apdu[:end_of_data] + bytes([le])  # case 3 gains an Le, case 4 has it replaced


def _split(response: bytes, what: str) -> tuple[bytes, int, int]:
    if not response:
        raise _CardGone(f"{what}: empty reply")
    if len(response) < 2:
        raise _BadAnswer(f"{what}: reply of {len(response)} byte(s)")
    return response[:-2], response[-2], response[-1]


def _is_iso_status(sw1: int) -> bool:
    """A status word ISO 7816-4 defines (errors, warnings, proprietary 9xxx); 60xx is a procedure byte."""
    return 0x61 <= sw1 <= 0x6F or 0x90 <= sw1 <= 0x9F


def _exchange(transmit: Transmit, apdu: bytes, what: str) -> bytes:
    """Send one command, follow 6Cxx and 61xx, and return the data of its 9000 answer."""
    data, sw1, sw2 = _split(transmit(apdu), what)
    if sw1 == 0x6C:  # wrong Le: the card says how many bytes it has
        data, sw1, sw2 = _split(transmit(_with_le(apdu, sw2)), what)
        if sw1 == 0x6C:
            raise _BadAnswer(f"{what}: 6C{sw2:02X} again after resending with the Le it asked for")
    collected = bytearray(data)
    rounds = 0
    while sw1 == 0x61:  # more data waiting: fetch it
        rounds += 1
        if rounds > _MAX_GET_RESPONSE_ROUNDS:
            raise _BadAnswer(f"{what}: GET RESPONSE does not end")
        data, sw1, sw2 = _split(transmit(_GET_RESPONSE + bytes([sw2])), f"{what} GET RESPONSE")
        collected += data
    if (sw1, sw2) == _SW_OK:
        return bytes(collected)
    if _is_iso_status(sw1):
        raise _NotThisKind(f"{what}: {sw1:02X}{sw2:02X}")
    raise _BadAnswer(f"{what}: invalid status word {sw1:02X}{sw2:02X}")


def _read_uid(transmit: Transmit) -> str:
    uid = _exchange(transmit, _APDU_GET_UID, "GET UID")
    if not 4 <= len(uid) <= 10:
        raise _BadAnswer(f"GET UID: {len(uid)} bytes")
    return uid.hex().upper()


def _read_resident_id(transmit: Transmit) -> str:
    number = _exchange(transmit, _APDU_RESIDENT_ID_NUMBER, "ID card number")
    if len(number) != 8:
        raise _BadAnswer(f"ID card number: {len(number)} bytes")
    return number.hex().upper()


def _parse_ssc_number(record: bytes) -> str:
    """The card number in EF05 record 7: ``07 LL <LL ASCII bytes>``."""
    if len(record) < 2 or record[0] != _SSC_NUMBER_TAG or record[1] > len(record) - 2:
        raise _BadAnswer(f"SSC record 7: not a tag-07 TLV ({len(record)} bytes)")
    value = record[2 : 2 + record[1]].rstrip(b" \x00")
    try:
        number = value.decode("ascii").upper()
    except UnicodeDecodeError:
        raise _BadAnswer("SSC record 7: card number is not ASCII") from None
    if not _SSC_NUMBER.fullmatch(number):
        raise _BadAnswer("SSC record 7: card number is not 1-32 letters and digits")
    return number


def _read_social_security(transmit: Transmit) -> str:
    _exchange(transmit, _APDU_SELECT_SSSE, "SELECT SSSE")  # the FCI is not needed
    _exchange(transmit, _APDU_SELECT_EF05, "SELECT EF05")
    return _parse_ssc_number(_exchange(transmit, _APDU_READ_RECORD_7, "READ RECORD 7"))


_KIND_READERS: dict[CardKind, Callable[[Transmit], str]] = {
    CardKind.UID: _read_uid,
    CardKind.RESIDENT_ID: _read_resident_id,
    CardKind.SOCIAL_SECURITY: _read_social_security,
}


# --- PC/SC ----------------------------------------------------------------------------------------------


def _hr(value: int) -> int:
    return value & 0xFFFFFFFF


_OK = _hr(scard.SCARD_S_SUCCESS)
_TIMEOUT = _hr(scard.SCARD_E_TIMEOUT)
_NO_READERS = _hr(scard.SCARD_E_NO_READERS_AVAILABLE)
_READER_GONE = {_hr(scard.SCARD_E_UNKNOWN_READER), _hr(scard.SCARD_E_READER_UNAVAILABLE)}
_CARD_GONE = {
    _hr(scard.SCARD_W_REMOVED_CARD),
    _hr(scard.SCARD_E_NO_SMARTCARD),
    _hr(scard.SCARD_E_NOT_TRANSACTED),
    _hr(scard.SCARD_W_UNPOWERED_CARD),
}
_CARD_MUTE = {_hr(scard.SCARD_W_UNRESPONSIVE_CARD), _hr(scard.SCARD_E_PROTO_MISMATCH)}
_PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


def _describe(hr: int) -> str:
    return f"0x{hr:08X}"


class PcscCardReader:
    """A :class:`CardSource` on the PC/SC stack (pcscd + pyscard's low-level ``scard`` API).

    ``reader_name``: watch the first reader whose name contains it (case-sensitive), or the first reader
    when ``None``. ``kinds``: the card kinds to try, in order. ``poll_seconds`` bounds how long a blocking
    PC/SC wait lasts, i.e. how soon ``stop`` is noticed; ``retry_seconds`` is the pause between attempts to
    reach a pcscd that is down.
    """

    def __init__(
        self,
        *,
        secret: bytes,
        reader_name: str | None = None,
        kinds: Iterable[CardKind | str] = DEFAULT_KIND_ORDER,
        poll_seconds: float = 0.5,
        retry_seconds: float = 1.0,
    ) -> None:
        if not secret:
            raise ValueError("the card-key secret must not be empty")
        order = tuple(CardKind(kind) for kind in kinds)
        if not order:
            raise ValueError("at least one card kind is needed")
        if len(set(order)) != len(order):
            raise ValueError(f"card kinds repeat: {[str(k) for k in order]}")
        self._secret = secret
        self._reader_name = reader_name
        self._kinds: tuple[CardKind, ...] = order
        self._poll_ms = max(1, int(poll_seconds * 1000))
        self._retry_seconds = retry_seconds

    @property
    def kinds(self) -> tuple[CardKind, ...]:
        return self._kinds

    def run(self, on_event: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
        last_status: ReaderStatus | None = None

        def status(event: ReaderStatus) -> None:
            """Report the reader's state when it changes (not when a quick pcscd restart leaves it the same)."""
            nonlocal last_status
            if event != last_status:
                last_status = event
                on_event(event)

        while not stop.is_set():
            hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if _hr(hr) != _OK:
                log.debug("SCardEstablishContext: %s", _describe(_hr(hr)))
                status(ReaderStatus(ReaderState.PCSCD_DOWN))
                stop.wait(self._retry_seconds)
                continue
            try:
                self._serve(context, on_event, status, stop)
            except _ContextLost as lost:
                log.info("PC/SC context lost (%s); establishing a new one", lost)
                stop.wait(0.1)  # pcscd is going away or coming back; do not spin against it
            finally:
                scard.SCardReleaseContext(context)  # fails when pcscd is gone, which is fine

    def _serve(
        self,
        context: int,
        on_event: Callable[[ReaderEvent], None],
        status: Callable[[ReaderStatus], None],
        stop: threading.Event,
    ) -> None:
        """Find the reader and watch it, again and again, until stopped or the context dies."""
        pnp_state = scard.SCARD_STATE_UNAWARE
        while not stop.is_set():
            reader = self._find_reader(context)
            if reader is None:
                status(ReaderStatus(ReaderState.NO_READER))
                hr, states = scard.SCardGetStatusChange(context, self._poll_ms, [(_PNP_NOTIFICATION, pnp_state)])
                if _hr(hr) == _OK:
                    pnp_state = states[0][1]
                elif _hr(hr) != _TIMEOUT:
                    raise _ContextLost(f"waiting for readers: {_describe(_hr(hr))}")
                continue
            status(ReaderStatus(ReaderState.CONNECTED, reader))
            self._watch(context, reader, on_event, stop)

    def _find_reader(self, context: int) -> str | None:
        hr, names = scard.SCardListReaders(context, [])
        if _hr(hr) == _NO_READERS:
            return None
        if _hr(hr) != _OK:
            raise _ContextLost(f"listing readers: {_describe(_hr(hr))}")
        for name in names:
            if self._reader_name is None or self._reader_name in name:
                return str(name)
        return None

    def _watch(self, context: int, reader: str, on_event: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
        """Read each card put on ``reader`` once; return when the reader goes away.

        pcsc-lite counts insertions and removals in the upper 16 bits of the event state. A card is read
        when it is present with a count not read before: that ignores the state changes our own
        connect/disconnect cause, and still catches a card swapped between two polls. A card already lying on
        the reader when watching (re)starts, e.g. after pcscd restarted, is read as a tap: nothing tells it
        apart from a card put down at that moment.
        """
        state = scard.SCARD_STATE_UNAWARE
        read_at_count: int | None = None
        while not stop.is_set():
            hr, states = scard.SCardGetStatusChange(context, self._poll_ms, [(reader, state)])
            if _hr(hr) == _TIMEOUT:
                continue
            if _hr(hr) in _READER_GONE:
                return
            if _hr(hr) != _OK:
                raise _ContextLost(f"waiting for cards: {_describe(_hr(hr))}")
            state = states[0][1]
            if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                return
            if not state & scard.SCARD_STATE_PRESENT:
                read_at_count = None
                continue
            count = state >> 16
            if read_at_count == count:
                continue
            read_at_count = count
            if state & scard.SCARD_STATE_MUTE:
                on_event(CardError(CardErrorCode.CARD_UNRESPONSIVE, "card is mute (no ATR)"))
                continue
            on_event(CardPresent())  # before the first APDU: the screen says 「正在读卡…」 while the card answers
            on_event(self._read_card(context, reader))

    def _read_card(self, context: int, reader: str) -> CardTapped | CardError:
        hr, card, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        if _hr(hr) != _OK:
            return self._connect_error(_hr(hr))

        def transmit(apdu: bytes) -> bytes:
            hr, response = scard.SCardTransmit(card, protocol, list(apdu))
            if _hr(hr) == _OK:
                return bytes(response)
            if _hr(hr) in _CARD_GONE:
                raise _CardGone(f"SCardTransmit: {_describe(_hr(hr))}")
            # Anything else, pcscd going away included: the watch loop notices a dead context on its next call.
            raise _ReadFailed(f"SCardTransmit: {_describe(_hr(hr))}")

        try:
            return self._read_key(transmit)
        except _CardGone as gone:
            return CardError(CardErrorCode.CARD_REMOVED, str(gone))
        except _BadAnswer as bad:
            return CardError(CardErrorCode.BAD_ANSWER, str(bad))
        except _ReadFailed as failed:
            return CardError(CardErrorCode.READ_FAILED, str(failed))
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)

    def _read_key(self, transmit: Transmit) -> CardTapped | CardError:
        declined: list[str] = []
        for kind in self._kinds:
            try:
                serial = _KIND_READERS[kind](transmit)
            except _NotThisKind as no:
                declined.append(str(no))
                continue
            return CardTapped(CardKey(kind, card_key_digest(self._secret, kind.value, serial)))
        return CardError(CardErrorCode.UNKNOWN_CARD, "; ".join(declined))

    @staticmethod
    def _connect_error(hr: int) -> CardError:
        detail = f"SCardConnect: {_describe(hr)}"
        if hr in _CARD_GONE:
            return CardError(CardErrorCode.CARD_REMOVED, detail)
        if hr in _CARD_MUTE:
            return CardError(CardErrorCode.CARD_UNRESPONSIVE, detail)
        return CardError(CardErrorCode.READ_FAILED, detail)
