"""Virtual cards for the vsmartcard-vpcd reader driver, written in the suite.

The vpcd protocol (vsmartcard ``virtualsmartcard/src/vpcd/vpcd.c``): the card is a TCP client of the port vpcd
listens on; connecting puts the card on the reader ("tap") and closing the socket takes it off ("remove").
Every message either way is a 2-byte big-endian length followed by that many bytes. A 1-byte message from
vpcd is a control code: 0x00 power off, 0x01 power on, 0x02 reset (no answer to any of the three), 0x04 "send
your ATR" (answered with the ATR). Any longer message is a command APDU, answered with the response APDU.
pcscd polls the card's presence by asking for the ATR a few times a second.

Two details of vpcd matter to the tests: it accepts one card per slot at a time (a second card waits in the
listen backlog until the first is gone), and a card that closes the socket instead of answering an APDU
reaches the PC/SC client as an empty response rather than as an error.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

# ATRs of real card types. A PC/SC contactless reader builds the ATR of a contactless card itself (PC/SC part 3,
# "3B 8n 80 01 <historical bytes> TCK"); the values below are listed for these cards in pcsc-tools'
# smartcard_list.txt (github.com/LudovicRousseau/pcsc-tools).
# MIFARE Classic 1K through a PC/SC part 3 reader: RID A0 00 00 03 06, standard 03 (ISO 14443 A part 3), name 00 01.
ATR_CONTACTLESS_A = bytes.fromhex("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A")
# "Resident Identity Card of People Republic of China (Second Generation with RF Feature)" (smartcard_list.txt):
# ISO 14443 B, the historical bytes are the ATQB's application data and protocol info.
ATR_RESIDENT_ID = bytes.fromhex("3B 88 80 01 D1 03 86 05 00 80 80 00 58")
# A contact T=0 ATR of a UnionPay bank card ("UnionPay Debit card issued by Bank of China (Contact)",
# smartcard_list.txt). No social security card ATR is published there; third-generation social security cards are
# issued by banks as UnionPay cards with the SSSE application beside the bank one, so a bank card's ATR stands in.
ATR_CONTACT = bytes.fromhex("3B 6A 00 00 81 41 01 98 10 00 00 00 00 0A")

# Status words: ISO/IEC 7816-4 section 5.1.3 (table 6 "status bytes").
SW_OK = b"\x90\x00"
SW_WRONG_P1P2 = b"\x6a\x86"  # incorrect parameters P1-P2
SW_FILE_NOT_FOUND = b"\x6a\x82"  # file or application not found (also: a DF name that no application has)
SW_RECORD_NOT_FOUND = b"\x6a\x83"  # record not found
SW_FUNCTION_NOT_SUPPORTED = b"\x6a\x81"  # function not supported
SW_INS_NOT_SUPPORTED = b"\x6d\x00"  # instruction code not supported or invalid
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"  # class not supported
SW_CONDITIONS_NOT_SATISFIED = b"\x69\x85"  # conditions of use not satisfied
SW_SECURITY_NOT_SATISFIED = b"\x69\x82"  # security status not satisfied (e.g. PIN not verified)
SW_NO_CURRENT_EF = b"\x69\x86"  # command not allowed (no current EF)
SW_WRONG_LENGTH = b"\x67\x00"  # wrong length (Lc)

_CTRL_OFF, _CTRL_ON, _CTRL_RESET, _CTRL_ATR = 0x00, 0x01, 0x02, 0x04


def _sw(sw1: int, sw2: int) -> bytes:
    return bytes([sw1, sw2])


def _le(apdu: bytes) -> int:
    """The Le of a short case-2 APDU (0 when absent or 00, meaning "all you have")."""
    return apdu[4] if len(apdu) == 5 else 0


class VirtualCard:
    """A card's behaviour: its ATR and its answer to each command APDU (``None``: vanish instead of answering)."""

    atr: bytes = ATR_CONTACTLESS_A

    def power_on(self) -> None:
        """Power on or reset: forget any selection."""

    def answer(self, apdu: bytes) -> bytes | None:
        raise NotImplementedError


class UidCard(VirtualCard):
    """A contactless card seen through a PC/SC reader: answers GET DATA UID (``FF CA 00 00 Le``; PC/SC part 3
    section 3.2.2.1.3: CLA FF is the reader's own class, 6A81 "function not supported" for other P1, 6Cxx a wrong Le).
    """

    def __init__(self, uid: bytes) -> None:
        self.uid = uid

    def answer(self, apdu: bytes) -> bytes | None:
        if apdu[0] != 0xFF:
            return SW_CLA_NOT_SUPPORTED
        if apdu[1] != 0xCA:
            return SW_FUNCTION_NOT_SUPPORTED
        if apdu[2:4] != b"\x00\x00":
            return SW_WRONG_P1P2
        le = _le(apdu)
        if le not in (0, len(self.uid)):
            return _sw(0x6C, len(self.uid))
        return self.uid + SW_OK


class ResidentIdCard(VirtualCard):
    """The resident ID card (居民身份证, ISO 14443 B): answers ``00 36 00 00 08`` with its 8-byte physical card
    number, the command public ID-card readers send for the card's serial (the personal data behind it needs the
    ministry's SAM module and is never asked for)."""

    atr = ATR_RESIDENT_ID

    def __init__(self, number: bytes) -> None:
        self.number = number  # 8 bytes on a real card; other lengths make a misbehaving one

    def answer(self, apdu: bytes) -> bytes | None:
        if apdu[0] != 0x00:
            return SW_CLA_NOT_SUPPORTED
        if apdu[1] != 0x36:
            return SW_INS_NOT_SUPPORTED
        if apdu[2:4] != b"\x00\x00":
            return SW_WRONG_P1P2
        return self.number + SW_OK


# The national social security card (社会保障卡), as public reader and issuing code for the card specification of the
# Ministry of Human Resources and Social Security uses it (the specification itself is not public):
# - the SSSE application's DF name is the fixed "sx1.sh.社会保障" in GBK: an issuer's checker insists that "SSSE的AID
#   为固定值7378312E73682EC9E7BBE1B1A3D5CF", and readers select it with 00 A4 04 00 0F 7378...D5CF; they treat 61xx
#   and 9000 as success;
# - EF05 (card data) holds records 01-07, record n under tag n: 01 card identification code (16 bytes), 02 card
#   type, 03 specification version ("3.00"), 04 issuing institution, 05 issue date, 06 expiry date, 07 card number
#   (9 ASCII characters: readers send 00 B2 07 04 0B, 2 + 9 bytes; older cards have 8-character numbers);
# - EF06 (holder data) holds 01 tag 08 social security number (the ID number, 18 bytes: 00 B2 01 04 14), 02 tag 09
#   name (30 bytes GBK: 00 B2 02 04 20), 04 tag 0A sex, 05 tag 0B nation, 07 tag 0D birth date; readers VERIFY the
#   PIN (00 20 00 00 03 ...) before reading it.
SSSE_DF_NAME = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
EF05 = b"\xef\x05"
EF06 = b"\xef\x06"


def _record(tag: int, value: bytes) -> bytes:
    return bytes([tag, len(value)]) + value


class SocialSecurityCard(VirtualCard):
    """A social security card: the SSSE application by its DF name, EF05 (card data) and EF06 (holder data, only
    after VERIFY with the PIN), each read by READ RECORD with P2=04 (record P1 of the current EF).

    ISO/IEC 7816-4 answers throughout: a DF name it does not have (``SSSE`` for one) is 6A82, a file id it does not
    have 6A82, READ RECORD with no current EF 6986, a missing record 6A83, EF06 before VERIFY 6982, a wrong PIN 63Cx.
    Over T=0 (ISO/IEC 7816-3) the SELECT of the application answers 61xx and hands out its FCI by GET RESPONSE
    (``chunk`` bytes at a time when set, as some cards do), and READ RECORD with an Le other than the record's
    length answers 6Cxx with the right one. With ``t0=False`` (T=1, or the card's contactless interface, where a
    response carries its data directly) the SELECT answers the FCI with 9000 at once. ``record`` replaces EF05
    record 07 (to make a misbehaving card).
    """

    atr = ATR_CONTACT
    # FCI template (ISO/IEC 7816-4 5.3.3): 6F { 84 DF name, A5 proprietary (empty) }.
    _FCI = bytes([0x6F, 2 + len(SSSE_DF_NAME) + 2, 0x84, len(SSSE_DF_NAME)]) + SSSE_DF_NAME + bytes([0xA5, 0x00])

    def __init__(
        self,
        card_number: str,
        *,
        record: bytes | None = None,
        chunk: int | None = None,
        t0: bool = True,
        pin: bytes = b"\x12\x34\x56",
        id_number: str = "11010519491231002X",
        name: str = "张三",
    ) -> None:
        self.ef05 = {
            1: _record(0x01, bytes.fromhex("330300D15600000599110145FFFFFFFF")),  # card identification code
            2: _record(0x02, b"3"),  # card type
            3: _record(0x03, b"3.00"),  # specification version
            4: _record(0x04, b"330300000000"),  # issuing institution
            5: _record(0x05, bytes.fromhex("20200701")),  # issue date
            6: _record(0x06, bytes.fromhex("20300701")),  # expiry date
            7: record if record is not None else _record(0x07, card_number.encode("ascii")),
        }
        self.ef06 = {
            1: _record(0x08, id_number.encode("ascii")),
            2: _record(0x09, name.encode("gbk").ljust(30, b"\x00")),
        }
        self.chunk = chunk
        self.t0 = t0
        self.pin = pin
        self.power_on()

    def power_on(self) -> None:
        self._in_ssse = False
        self._ef: bytes | None = None
        self._pin_ok = False
        self._pending = b""

    def answer(self, apdu: bytes) -> bytes | None:
        cla, ins, p1, p2 = apdu[:4]
        if cla != 0x00:
            return SW_CLA_NOT_SUPPORTED
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4:
            return self._select(p1, data)
        if ins == 0xC0:
            return self._get_response(_le(apdu))
        if ins == 0xB2:
            return self._read_record(p1, p2, _le(apdu))
        if ins == 0x20:
            return self._verify(data)
        return SW_INS_NOT_SUPPORTED

    def _select(self, p1: int, data: bytes) -> bytes:
        self._pending = b""
        if p1 == 0x04:  # by DF name
            if data != SSSE_DF_NAME:
                return SW_FILE_NOT_FOUND
            self._in_ssse, self._ef, self._pin_ok = True, None, False
            if not self.t0:
                return self._FCI + SW_OK
            self._pending = self._FCI
            return _sw(0x61, len(self._FCI))
        if p1 in (0x00, 0x02):  # by file id (00: any file, 02: an EF under the current DF)
            if len(data) != 2:
                return SW_WRONG_LENGTH
            if self._in_ssse and data in (EF05, EF06):
                self._ef = data
                return SW_OK
            return SW_FILE_NOT_FOUND
        return SW_WRONG_P1P2

    def _get_response(self, le: int) -> bytes:
        if not self._pending:
            return SW_CONDITIONS_NOT_SATISFIED
        size = min(le or 256, self.chunk or 256)
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk + (_sw(0x61, len(self._pending)) if self._pending else SW_OK)

    def _verify(self, data: bytes) -> bytes:
        if not self._in_ssse:
            return SW_CONDITIONS_NOT_SATISFIED
        self._pin_ok = data == self.pin
        return SW_OK if self._pin_ok else _sw(0x63, 0xC2)  # 63Cx: verification failed, x tries left

    def _read_record(self, number: int, p2: int, le: int) -> bytes:
        if p2 != 0x04:
            return SW_WRONG_P1P2
        if self._ef is None:
            return SW_NO_CURRENT_EF
        if self._ef == EF06 and not self._pin_ok:
            return SW_SECURITY_NOT_SATISFIED
        record = (self.ef05 if self._ef == EF05 else self.ef06).get(number)
        if record is None:
            return SW_RECORD_NOT_FOUND
        if le != len(record):
            return _sw(0x6C, len(record))
        return record + SW_OK


class UnknownCard(VirtualCard):
    """A card of no supported kind: INS not supported, whatever it is asked."""

    def answer(self, apdu: bytes) -> bytes | None:
        return SW_INS_NOT_SUPPORTED


class GarbageCard(VirtualCard):
    """Answers every command with the same bytes: one byte, an invalid status word, ..."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def answer(self, apdu: bytes) -> bytes | None:
        return self.reply


class VanishingCard(VirtualCard):
    """Behaves like ``card`` for ``answered`` commands, then leaves the reader in the middle of the next one."""

    def __init__(self, card: VirtualCard, *, answered: int = 0) -> None:
        self.card = card
        self.atr = card.atr
        self.remaining = answered

    def power_on(self) -> None:
        self.card.power_on()

    def answer(self, apdu: bytes) -> bytes | None:
        if self.remaining == 0:
            return None
        self.remaining -= 1
        return self.card.answer(apdu)


class HeldCard(VirtualCard):
    """Behaves like ``card``, but holds its answer to the first command until ``release`` is set: a slow card (an
    old social security card computing, a card at the edge of the field) whose read a test can watch half done.
    ``answering`` is set once that first command has arrived and is being held."""

    def __init__(self, card: VirtualCard, release: threading.Event) -> None:
        self.card = card
        self.atr = card.atr
        self.release = release
        self.answering = threading.Event()

    def power_on(self) -> None:
        self.card.power_on()

    def answer(self, apdu: bytes) -> bytes | None:
        self.answering.set()
        if not self.release.wait(30):
            return None  # never released: leave the reader
        return self.card.answer(apdu)


class CombinedCard(VirtualCard):
    """Several cards in one (like a reader that answers ``FF CA`` for any card plus the card's own commands):
    the first part that does not refuse the command with 6D00/6E00/6A81/6A82 answers it."""

    _REFUSALS = (SW_INS_NOT_SUPPORTED, SW_CLA_NOT_SUPPORTED, SW_FUNCTION_NOT_SUPPORTED, SW_FILE_NOT_FOUND)

    def __init__(self, *parts: VirtualCard) -> None:
        self.parts = parts
        self.atr = parts[0].atr

    def power_on(self) -> None:
        for part in self.parts:
            part.power_on()

    def answer(self, apdu: bytes) -> bytes | None:
        reply: bytes | None = SW_INS_NOT_SUPPORTED
        for part in self.parts:
            reply = part.answer(apdu)
            if reply is None or reply[-2:] not in self._REFUSALS:
                return reply
        return reply


class Tap:
    """A card on the reader: connected to vpcd's port and answering it from a thread until removed."""

    def __init__(self, card: VirtualCard, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.card = card
        self.apdus: list[bytes] = []  # every command APDU the card received, in order
        self.vanished = False  # the card left mid-APDU (VanishingCard)
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.settimeout(None)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"vcard-{type(card).__name__}", daemon=True)
        self._thread.start()

    @property
    def on_reader(self) -> bool:
        return not self._done.is_set()

    def remove(self, timeout: float = 5.0) -> None:
        """Take the card off the reader (close the connection) and wait for its thread."""
        with contextlib.suppress(OSError):  # already closed: the card vanished, or vpcd went away
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("virtual card thread did not stop")

    def wait_gone(self, timeout: float) -> bool:
        """Wait until the connection is closed, by either side."""
        return self._done.wait(timeout)

    def _recv_exactly(self, size: int) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._sock.recv(size - len(chunks))
            if not chunk:
                return None
            chunks += chunk
        return bytes(chunks)

    def _send(self, payload: bytes) -> None:
        self._sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _serve(self) -> None:
        try:
            while True:
                header = self._recv_exactly(2)
                if header is None:
                    return
                (size,) = struct.unpack(">H", header)
                message = self._recv_exactly(size) if size else b""
                if message is None:
                    return
                if size == 1:
                    self._control(message[0])
                    continue
                self.apdus.append(message)
                reply = self.card.answer(message)
                if reply is None:
                    self.vanished = True
                    return
                self._send(reply)
        except OSError:
            return  # the socket was shut down by remove() or reset by vpcd
        finally:
            self._sock.close()
            self._done.set()

    def _control(self, code: int) -> None:
        if code == _CTRL_ATR:
            self._send(self.card.atr)
        elif code in (_CTRL_ON, _CTRL_RESET):
            self.card.power_on()
        # _CTRL_OFF and unknown codes need no answer


class CardSlot:
    """Taps cards on one vpcd slot; ``port`` is read at each tap, so it follows a restarted pcscd.

    ``wait_empty`` is called before each tap: it should return once the reader is seen empty, so every tap is
    a new card to pcscd (see ``PrivatePcscd.wait_reader_empty``); a test that leaves a card on the reader and
    taps another gets the error it raises.
    """

    def __init__(self, port: Callable[[], int], *, wait_empty: Callable[[], None] = lambda: None) -> None:
        self._port = port
        self._wait_empty = wait_empty
        self.taps: list[Tap] = []

    def tap(self, card: VirtualCard) -> Tap:
        self._wait_empty()
        tap = Tap(card, self._port())
        self.taps.append(tap)
        return tap

    def remove_all(self) -> None:
        for tap in self.taps:
            tap.remove()
        self.taps.clear()
