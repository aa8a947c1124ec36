"""Paper near its end on the cashier screen: the printer's near-end sensor (``DLE EOT 4``) answered by the loopback
printer shows as an amber warning in the status bar, prints go on, and a print does not hide the warning."""

from __future__ import annotations

from terminal.counter import Counter, Sale
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from terminal.virtual.escpos_decode import decode
from terminal.virtual.printer import LoopbackPrinter, PrinterState
from terminal.web.station import Station
from tests.terminal.counter.world import OLD, Clock
from tests.terminal.printer.test_printer import tcp_printer
from tests.terminal.web.test_taps import clock, ledger, snapshot, station, tapped

__all__ = ["clock", "ledger", "snapshot", "station"]


def test_paper_near_end_is_a_warning_that_a_print_keeps(station: Station, loopback: LoopbackPrinter) -> None:
    station.check_printer()
    ok = station.cashier_view()["status"]["printer"]
    assert (ok["ok"], ok["warn"], ok["text"]) == (True, False, "正常")

    loopback.state = PrinterState.PAPER_NEAR_END
    station.check_printer()
    low = station.cashier_view()["status"]["printer"]
    assert (low["ok"], low["warn"], low["code"], low["text"]) == (True, True, None, "纸将用完，请备好纸卷")
    station.set_lang("en")
    assert station.cashier_view()["status"]["printer"]["text"] == "Paper low: have a new roll ready"
    station.set_lang("zh")

    assert isinstance(station.on_reader_event(tapped(OLD)), Sale)
    assert station.confirm("cash").printed
    after = station.cashier_view()["status"]["printer"]
    assert (after["ok"], after["warn"]) == (True, True)  # the sale printed; the roll is still near its end

    loopback.state = PrinterState.ONLINE  # a new roll
    station.check_printer()
    assert station.cashier_view()["status"]["printer"]["warn"] is False


def test_paper_out_is_not_a_warning_but_a_fault(station: Station, loopback: LoopbackPrinter) -> None:
    loopback.state = PrinterState.PAPER_OUT
    station.check_printer()
    out = station.cashier_view()["status"]["printer"]
    assert (out["ok"], out["warn"], out["code"]) == (False, False, "paper_out")


def test_a_printer_without_status_is_not_called_ready_until_it_prints(
    snapshot: Snapshot, ledger: Ledger, clock: Clock
) -> None:
    with LoopbackPrinter(answers_status=False) as mute:
        printer = tcp_printer(mute, status="none", status_check_s=0.2)
        counter = Counter(snapshot=snapshot, ledger=ledger, printer=printer, clock=clock, canteen_name="如意食堂")
        mute_station = Station(counter, terminal_id="T01")
        mute_station.check_printer()
        line = mute_station.cashier_view()["status"]["printer"]
        assert (line["ok"], line["text"]) == (None, "不回报状态")
        mute_station.on_reader_event(tapped(OLD))
        result = mute_station.confirm("cash")
        assert result.printed and mute_station.cashier_view()["status"]["printer"]["ok"] is True
        [job] = mute.wait_for_jobs(1)
        assert decode(job.payload).qr_codes[0].data == str(result.record.meal_id if result.record else "")
