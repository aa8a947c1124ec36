"""What a terminal may hold: the rule book and elder profiles with categories replaced by opaque tokens.

Invariant 8: no category reaches a terminal's disk. Pricing only needs to know whether an elder holds
*the same* category a tier names, so the server replaces every category code (and every tier that names
categories, whose id and label would tell them) by a keyed token before the snapshot leaves it. Tokens are
stable for one key, so a terminal's quote names the same tiers as the server's re-quote under the same key.
"""

from __future__ import annotations

import hashlib
import hmac

from ruyi.eligibility import ElderProfile
from ruyi.rules import RuleBook, Tier

CATEGORY_TIER_LABEL = "按类别补贴"


def token(key: bytes, kind: str, code: str) -> str:
    """A short keyed token for a category or tier code (lower-case, valid as a rule-book code)."""
    return f"{kind}{hmac.new(key, f'{kind}:{code}'.encode(), hashlib.sha256).hexdigest()[:12]}"


def _tier(key: bytes, tier: Tier) -> Tier:
    w = tier.when
    if not (w.categories_any or w.categories_all):
        return tier
    return tier.model_copy(
        update={
            "id": token(key, "t", tier.id),
            "label": CATEGORY_TIER_LABEL,
            "when": w.model_copy(
                update={
                    "categories_any": tuple(token(key, "c", c) for c in w.categories_any),
                    "categories_all": tuple(token(key, "c", c) for c in w.categories_all),
                }
            ),
        }
    )


def rulebook_for_terminal(book: RuleBook, key: bytes) -> RuleBook:
    """The same rule book, pricing identically, with no category code or name left in it."""
    versions = tuple(v.model_copy(update={"tiers": tuple(_tier(key, t) for t in v.tiers)}) for v in book.versions)
    categories = {token(key, "c", code): token(key, "c", code) for code in book.categories}
    return book.model_copy(update={"versions": versions, "categories": categories})


def profile_for_terminal(elder: ElderProfile, key: bytes) -> ElderProfile:
    spans = tuple(s.model_copy(update={"code": token(key, "c", s.code)}) for s in elder.categories)
    return elder.model_copy(update={"categories": spans})
