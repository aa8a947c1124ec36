"""What the sync endpoints take and return: the contract in :mod:`ruyi.sync`, shared with the terminal."""

from ruyi.sync import PullResponse, PushRequest, PushResponse, ZReportAck, ZReportIn

__all__ = ["PullResponse", "PushRequest", "PushResponse", "ZReportAck", "ZReportIn"]
