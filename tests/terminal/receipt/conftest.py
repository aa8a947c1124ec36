"""The counter tests' fixtures (real ledger, loopback printer, snapshot, clock), shared with the receipt tests."""

from tests.terminal.counter.conftest import clock, ledger, loopback, snapshot

__all__ = ["clock", "ledger", "loopback", "snapshot"]
