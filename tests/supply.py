"""Builders for supply-chain events, as a workshop terminal would fill them in.

Each builder returns the event's fields (without the header); ``Terminal.sign`` adds the header
and signs. Defaults describe an ordinary, valid event, so a test names only what it changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.terminal import Terminal

if TYPE_CHECKING:  # the builders stay importable on a verifier-only install (no store)
    from ledger.store.ledger import LedgerStore

# A chain-of-custody claim the whole lot is GOTS-certified under (with ``CERT_GOTS``).
GOTS_CLAIM = {"model": "segregated", "scheme": "GOTS", "certified_fraction": "1"}
CERT_GOTS = {
    "scheme": "GOTS",
    "id": "CU-GOTS-824511",
    "issuer": "ICEA",
    "valid_from": "2020-01-01",
    "valid_until": "2099-12-31",
}


def q(value: str, unit: str = "KGM") -> dict[str, str]:
    return {"value": value, "unit": unit}


def facility(fid: str = "main", town: str = "Como") -> dict[str, Any]:
    return {
        "id": fid,
        "name": f"{town} works",
        "town": town,
        "country": "IT",
        "lat": "45.8081",
        "lon": "9.0852",
    }


def material(lot: str, amount: str = "100", unit: str = "KGM", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "material",
        "lot": lot,
        "material": "silk-mulberry",
        "quantity": q(amount, unit),
        "facility": "main",
    }
    return fields | extra


def process(
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]] | None = None,
    items: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "process",
        "process": "dyeing",
        "facility": "main",
        "inputs": inputs,
        "outputs": outputs or [],
        "items": items or [],
    }
    return fields | extra


def take(lot: str, amount: str, unit: str = "KGM") -> dict[str, Any]:
    return {"lot": lot, "quantity": q(amount, unit)}


def make(lot: str, amount: str, material_id: str = "silk-mulberry", **extra: Any) -> dict[str, Any]:
    return {"lot": lot, "material": material_id, "quantity": q(amount)} | extra


def item(item_id: str, mass: str = "0.2", **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "product": "Foulard Lario 90x90", "mass": q(mass)} | extra


def handover(hid: str, to: str, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "handover", "id": hid, "to": to, "lines": lines} | extra


def receipt(sender: str, hid: str, *, accepted: bool = True, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "receipt",
        "handover": {"sender": sender, "id": hid},
        "accepted": accepted,
    }
    if not accepted:
        fields["reason"] = "wrong colour"
    return fields | extra


def lifecycle(kind: str, item_id: str, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "lifecycle", "kind": kind, "item": item_id}
    if kind == "repair":
        fields["description"] = "stitching renewed"
    if kind == "rental":
        fields["until"] = "2027-01-31"
    return fields | extra


def passport(subject: str, name: str = "Foulard Lario", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": "passport",
        "subject": subject,
        "product": {"name": name, "category": "scarf", "country": "IT", "region": "Lombardia"},
        "instructions": {"care": ["Dry clean only"], "take_back": "Bring it back to the shop."},
    }
    return fields | extra


def enrol_actor(
    store: LedgerStore, operator: Terminal, slug: str, roles: tuple[str, ...] = ("supplier",)
) -> Terminal:
    """Register ``slug`` with one facility (``main``) and the given roles; its terminal."""
    actor_id = f"urn:spola:actor:{slug}"
    terminal = Terminal(actor=actor_id)
    store.append(
        [
            operator.register(actor_id, roles=list(roles), facilities=[facility()]),
            operator.add_key(actor_id, terminal.key),
        ]
    )
    return terminal
