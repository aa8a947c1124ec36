"""How long a tap takes on the real PC/SC stack (a private pcscd with the vpcd driver and the spec-true virtual
cards of terminal.virtual.vpcd), per card kind: from the card touching the reader to the reader's "card arrived"
event (what turns the cashier screen to 「正在读卡…」), and from that event to the card key (what opens the sale).
"Tap to arrived" is mostly pcscd noticing the card: it polls a reader without card-change interrupts, as vpcd is.

The order of tries matters: with the default order (social security, resident ID, UID) a UID card is read only
after the social security application and the resident ID command have both been refused. The figures include
the loopback vpcd socket and pcscd's own polling, not a real card's radio time.

Run: .venv/bin/python -m bench.card_read [--taps 60]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from terminal.virtual.pcscd import READER_NAME, PrivatePcscd, socket_path

# libpcsclite reads PCSCLITE_CSOCK_NAME at the first PC/SC call: point it at the private daemon before any.
RUNTIME = Path(tempfile.gettempdir()) / f"ruyi-bench-pcscd-{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["PCSCLITE_CSOCK_NAME"] = str(socket_path(RUNTIME))

from terminal.devices.cards import (  # noqa: E402 (after the socket is chosen)
    DEFAULT_KIND_ORDER,
    CardError,
    CardKind,
    CardPresent,
    CardTapped,
    ReaderEvent,
)
from terminal.devices.pcsc_reader import PcscCardReader  # noqa: E402
from terminal.virtual.vpcd import (  # noqa: E402
    CardSlot,
    ResidentIdCard,
    SocialSecurityCard,
    UidCard,
    VirtualCard,
)

CARDS: dict[str, VirtualCard] = {
    "uid": UidCard(bytes.fromhex("04A1B2C3D4E5F6")),
    "resident_id": ResidentIdCard(bytes.fromhex("0123456789ABCDEF")),
    "social_security": SocialSecurityCard("A12345678"),
}


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms"


def measure(
    pcscd: PrivatePcscd, kinds: tuple[CardKind, ...], card: VirtualCard, taps: int
) -> tuple[list[float], list[float]]:
    """Seconds from each tap to the card-arrived event and from that event to the card key (the time the screen
    shows 「正在读卡…」), with the reader trying ``kinds``."""
    events: queue.Queue[tuple[float, ReaderEvent]] = queue.Queue()
    stop = threading.Event()
    reader = PcscCardReader(secret=b"bench card-key secret", reader_name=READER_NAME, kinds=kinds, poll_seconds=0.2)
    thread = threading.Thread(target=reader.run, args=(lambda e: events.put((time.perf_counter(), e)), stop))
    thread.start()
    slot = CardSlot(lambda: pcscd.port, wait_empty=pcscd.wait_reader_empty)
    arrived: list[float] = []
    keyed: list[float] = []
    try:
        time.sleep(0.5)  # the reader is found and watched
        for _ in range(taps):
            start = seen = time.perf_counter()
            tap = slot.tap(card)
            while True:
                at, event = events.get(timeout=10)
                if isinstance(event, CardPresent):
                    arrived.append(at - start)
                    seen = at
                elif isinstance(event, CardTapped | CardError):
                    if isinstance(event, CardError):
                        raise SystemExit(f"read failed: {event.code}")
                    keyed.append(at - seen)
                    break
            tap.remove()
            pcscd.wait_reader_empty()
    finally:
        stop.set()
        thread.join(timeout=5)
    return arrived, keyed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taps", type=int, default=60)
    args = parser.parse_args()
    pcscd = PrivatePcscd(RUNTIME)
    pcscd.start()
    try:
        order = "/".join(str(k) for k in DEFAULT_KIND_ORDER)
        print(f"{args.taps} taps per card, private pcscd + vpcd; default order {order}")
        for name, card in CARDS.items():
            arrived, keyed = measure(pcscd, DEFAULT_KIND_ORDER, card, args.taps)
            print(f"{name:16} tap to arrived {_ms(arrived)} | arrived to key {_ms(keyed)}")
        own, own_keyed = measure(pcscd, (CardKind.UID,), CARDS["uid"], args.taps)
        _, first = measure(pcscd, DEFAULT_KIND_ORDER, CARDS["uid"], args.taps)
        ratio = statistics.median(first) / statistics.median(own_keyed)
        print(f"uid, [uid] only  tap to arrived {_ms(own)} | arrived to key {_ms(own_keyed)}")
        print(f"ratio of uid's reading time, default order / uid only: {ratio:.2f}")
    finally:
        pcscd.close()


if __name__ == "__main__":
    main()
