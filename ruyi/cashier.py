"""Cashiers as a terminal knows them: a personal number, a short name and a salted slow hash of the PIN.

The server makes the hash when a staff admin sets a PIN (:func:`hash_pin`); the terminal checks a typed PIN
against it offline (:func:`verify_pin`). The PIN itself never leaves the admin's request: not in the database,
the snapshot, a log or the audit log. The hash is scrypt (RFC 7914) with a random 16-byte salt per PIN and the
cost :data:`PIN_COST` (about 50 ms on a counter PC, 16 MiB of memory), written as
``scrypt$<log2 N>$<r>$<p>$<salt hex>$<key hex>`` so the cost can be raised later without breaking old hashes.
A 4-8 digit PIN is weak against a stolen snapshot; what stops guessing at the counter is the lockout
(:mod:`terminal.cashiers`), and what limits a stolen disk is the cost per guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated

from pydantic import Field, StringConstraints

from ruyi._model import Frozen
from ruyi.meal import Ident

PIN_RE = re.compile(r"^[0-9]{4,8}$")
CASHIER_NO_RE = re.compile(r"^[0-9]{1,8}$")
PIN_HASH_RE = re.compile(r"^scrypt\$(1[0-9]|20)\$([1-9][0-9]?)\$([1-9])\$([0-9a-f]{32})\$([0-9a-f]{64})$")
PIN_COST = (14, 8, 1)
"""scrypt's log2 N, r and p for new PINs."""
_MAXMEM = 256 * 1024 * 1024

PinHash = Annotated[str, StringConstraints(pattern=PIN_HASH_RE.pattern)]
CashierNo = Annotated[str, StringConstraints(pattern=CASHIER_NO_RE.pattern)]


class CashierEntry(Frozen):
    """One cashier of the canteen, as the terminal holds them (never the PIN)."""

    id: Ident
    """The cashier's staff id: what every meal record they make carries as ``cashier``."""
    number: CashierNo
    """The personal number typed at sign-in (unique within the canteen)."""
    name: str = Field(default="", max_length=20)
    """Shown on the cashier screen and receipts while they are signed in."""
    pin_hash: PinHash


def valid_pin(pin: str) -> bool:
    return bool(PIN_RE.match(pin))


def _derive(pin: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=1 << log_n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_pin(pin: str, salt: bytes) -> str:
    """The stored form of ``pin`` under ``salt`` (16 random bytes, new for every PIN set)."""
    if not valid_pin(pin):
        raise ValueError("a PIN is 4 to 8 digits")
    if len(salt) != 16:
        raise ValueError("the salt must be 16 bytes")
    log_n, r, p = PIN_COST
    return f"scrypt${log_n}${r}${p}${salt.hex()}${_derive(pin, salt, log_n, r, p).hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` is the PIN behind ``stored`` (constant-time comparison; False for a malformed hash)."""
    m = PIN_HASH_RE.match(stored)
    if m is None or not valid_pin(pin):
        return False
    log_n, r, p, salt, key = int(m[1]), int(m[2]), int(m[3]), bytes.fromhex(m[4]), bytes.fromhex(m[5])
    return hmac.compare_digest(_derive(pin, salt, log_n, r, p), key)
