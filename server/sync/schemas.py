"""What the sync endpoints take and return: the contract in :mod:`ruyi.sync`, shared with the terminal."""

from ruyi.sync import MenuItem, PullResponse, PushRequest, PushResponse, ZReportAck, ZReportIn
from server.canteens.tables import MenuItem as MenuRow

__all__ = ["MenuItem", "PullResponse", "PushRequest", "PushResponse", "ZReportAck", "ZReportIn", "menu_entry"]


def menu_entry(m: MenuRow) -> MenuItem:
    """A canteen's menu row as the contract names it (what pull sends and intake checks against)."""
    return MenuItem(
        id=str(m.id), name=m.name[:40], price=m.price, slot=m.slot, valid_from=m.effective_from,
        valid_to=m.effective_to,
    )  # fmt: skip
