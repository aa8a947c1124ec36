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

# ATRs as PC/SC part 3 contactless readers build them (3B 8n 80 01 <historical bytes> TCK), and a T=0 contact one.
ATR_CONTACTLESS_A = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
ATR_CONTACTLESS_B = bytes.fromhex("3B80800101")  # no historical bytes
ATR_CONTACT = bytes.fromhex("3B6800000073C84013009000")

SW_OK = b"\x90\x00"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_RECORD_NOT_FOUND = b"\x6a\x83"
SW_FUNCTION_NOT_SUPPORTED = b"\x6a\x81"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"
SW_CONDITIONS_NOT_SATISFIED = b"\x69\x85"

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
    """A contactless card seen through a PC/SC reader: answers GET DATA UID (``FF CA 00 00 Le``)."""

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
    """The resident ID card: answers ``00 36 00 00 08`` with its physical card number."""

    atr = ATR_CONTACTLESS_B

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


class SocialSecurityCard(VirtualCard):
    """The social security card: application ``SSSE``, EF05 record 7 = ``07 LL <card number>``.

    It answers the SELECT of the application T=0 style (61xx, then the FCI in GET RESPONSE chunks of 8 bytes,
    so the reader has to follow several 61xx), and READ RECORD with a wrong Le by 6Cxx with the right one.
    """

    atr = ATR_CONTACT
    _FCI = bytes.fromhex("6F12") + bytes.fromhex("8404") + b"SSSE" + bytes.fromhex("A50A") + b"SSC-VIRTUA"
    _CHUNK = 8

    def __init__(self, card_number: str, *, record: bytes | None = None) -> None:
        encoded = card_number.encode()
        self.records = {
            1: bytes([0x01, 0x10]) + bytes(range(0x10)),  # card identification code (content irrelevant)
            7: record if record is not None else bytes([0x07, len(encoded)]) + encoded,
        }
        self.power_on()

    def power_on(self) -> None:
        self._app_selected = False
        self._ef: bytes | None = None
        self._pending = b""

    def answer(self, apdu: bytes) -> bytes | None:
        cla, ins, p1, p2 = apdu[:4]
        if cla != 0x00:
            return SW_CLA_NOT_SUPPORTED
        if ins == 0xA4:
            return self._select(p1, apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b"")
        if ins == 0xC0:
            return self._get_response(_le(apdu))
        if ins == 0xB2:
            return self._read_record(p1, p2, _le(apdu))
        return SW_INS_NOT_SUPPORTED

    def _select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:
            if data != b"SSSE":
                return SW_FILE_NOT_FOUND
            self._app_selected, self._ef = True, None
            self._pending = self._FCI
            return _sw(0x61, len(self._FCI))
        if p1 == 0x02 and self._app_selected and data == b"\xef\x05":
            self._ef = data
            return SW_OK
        return SW_FILE_NOT_FOUND

    def _get_response(self, le: int) -> bytes:
        if not self._pending:
            return SW_CONDITIONS_NOT_SATISFIED
        size = min(le or 256, self._CHUNK)
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk + (_sw(0x61, len(self._pending)) if self._pending else SW_OK)

    def _read_record(self, number: int, p2: int, le: int) -> bytes:
        if self._ef != b"\xef\x05" or p2 != 0x04:
            return SW_CONDITIONS_NOT_SATISFIED
        record = self.records.get(number)
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
