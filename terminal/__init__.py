"""The canteen terminal: card reader, local ledger, receipts, sync worker and the cashier screen."""
