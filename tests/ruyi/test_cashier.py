"""PIN hashes (ruyi.cashier): scrypt with a salt per PIN, checked in constant time; a cashier entry (what a
terminal may hold) refuses anything but such a hash, so a PIN cannot travel in its place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ruyi.cashier import CashierEntry, hash_pin, valid_pin, verify_pin

SALT = bytes(range(16))


def test_hash_and_verify() -> None:
    stored = hash_pin("482913", SALT)
    assert stored.startswith("scrypt$14$8$1$" + SALT.hex() + "$") and "482913" not in stored
    assert verify_pin("482913", stored)
    assert not verify_pin("482914", stored)
    assert hash_pin("482913", bytes(16)) != stored  # another salt, another hash
    assert not verify_pin("482913", stored.replace("scrypt$14", "scrypt$15"))  # the cost is part of the hash
    assert not verify_pin("482913", "482913") and not verify_pin("482913", "")


@pytest.mark.parametrize("pin", ["", "123", "123456789", "12a4", " 1234", "１２３４"])
def test_pin_shape(pin: str) -> None:
    assert not valid_pin(pin)
    with pytest.raises(ValueError):
        hash_pin(pin, SALT)


def test_entry_holds_a_hash_never_a_pin() -> None:
    entry = CashierEntry(id="c-1", number="1001", name="王芳", pin_hash=hash_pin("4829", SALT))
    assert entry.number == "1001"
    with pytest.raises(ValidationError):
        CashierEntry(id="c-1", number="1001", pin_hash="4829")
    with pytest.raises(ValidationError):
        CashierEntry(id="c-1", number="10a1", pin_hash=entry.pin_hash)
