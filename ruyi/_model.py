"""The one base of ruyi's pydantic contracts: immutable, and unknown fields refused (a typo is an error, never
silently dropped)."""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
