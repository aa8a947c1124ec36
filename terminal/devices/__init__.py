"""The terminal's devices: each narrow Protocol (what the counter uses) apart from its driver, so that the counter,
the configuration, the snapshot and the receipts import no hardware library."""
