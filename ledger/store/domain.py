"""The domain projections in the database: rows ⇄ records, and the sequencer's batch view.

``BatchDomain`` is the ``DomainView`` the sequencer hands to ``ledger.rules`` during one batch.
``preload`` reads, with a few ``IN`` queries, every lot, balance, item and handover the batch's
events name; later reads hit that cache (a miss still reads the one row). The batch's own
effects update the cache in log order, so a receipt can settle a handover logged earlier in the
same batch. ``flush`` writes what changed, row sets at a time, inside the sequencer's
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, tuple_, update

from ledger.events import Event
from ledger.quantities import format_decimal
from ledger.rules import (
    ZERO,
    AddCustody,
    AddProvenance,
    CustodyRecord,
    DomainEffect,
    Feedstock,
    HandoverLine,
    HandoverRecord,
    ItemRecord,
    LotRecord,
    ProvenanceRecord,
    PutHandover,
    PutItem,
    PutLot,
    References,
    SetBalance,
)
from ledger.store.rows import bulk_insert
from ledger.store.schema import balances, custody, handovers, items, lots, provenance
from ledger.supply import Claim

PRELOAD_CHUNK = 500  # ids per IN (…) query


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _claim_columns(claim: Claim | None, feedstock: Feedstock) -> dict[str, Any]:
    return {
        "claim_model": None if claim is None else claim.model,
        "claim_scheme": None if claim is None else claim.scheme,
        "claim_fraction": None if claim is None else claim.certified_fraction,
        "recycled": format_decimal(feedstock.recycled),
        "reused": format_decimal(feedstock.reused),
        "renewable": format_decimal(feedstock.renewable),
    }


def _claim(row: Any) -> Claim | None:
    if row.claim_model is None:
        return None
    return Claim(
        model=row.claim_model, scheme=row.claim_scheme, certified_fraction=row.claim_fraction
    )


def _feedstock(row: Any) -> Feedstock:
    return Feedstock(Decimal(row.recycled), Decimal(row.reused), Decimal(row.renewable))


def lot_row(record: LotRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "material": record.material,
        "unit": record.unit,
        "mass_per_unit": _text(record.mass_per_unit),
        "origin": record.origin,
        "facility": record.facility,
        "made_by": record.made_by,
        "created_at_index": record.created_at_index,
        **_claim_columns(record.claim, record.feedstock),
    }


def lot_from_row(row: Any) -> LotRecord:
    return LotRecord(
        id=row.id,
        material=row.material,
        unit=row.unit,
        mass_per_unit=_dec(row.mass_per_unit),
        origin=row.origin,
        facility=row.facility,
        made_by=row.made_by,
        created_at_index=row.created_at_index,
        claim=_claim(row),
        feedstock=_feedstock(row),
    )


def item_row(record: ItemRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "product": record.product,
        "mass": format_decimal(record.mass),
        "maker": record.maker,
        "owner": record.owner,
        "custodian": record.custodian,
        "status": record.status,
        **_claim_columns(record.claim, record.feedstock),
        "created_at_index": record.created_at_index,
        "updated_at_index": record.updated_at_index,
        "repairs": record.repairs,
        "rentals": record.rentals,
        "resales": record.resales,
    }


def item_from_row(row: Any) -> ItemRecord:
    return ItemRecord(
        id=row.id,
        product=row.product,
        mass=Decimal(row.mass),
        maker=row.maker,
        owner=row.owner,
        custodian=row.custodian,
        status=row.status,
        claim=_claim(row),
        feedstock=_feedstock(row),
        created_at_index=row.created_at_index,
        updated_at_index=row.updated_at_index,
        repairs=row.repairs,
        rentals=row.rentals,
        resales=row.resales,
    )


def handover_row(record: HandoverRecord) -> dict[str, Any]:
    lines = [[line.kind, line.subject, _text(line.amount)] for line in record.lines]
    return {
        "sender": record.sender,
        "id": record.id,
        "receiver": record.receiver,
        "lines": json.dumps(lines, separators=(",", ":")),
        "status": record.status,
        "logged_at_index": record.logged_at_index,
        "settled_at_index": record.settled_at_index,
    }


def handover_from_row(row: Any) -> HandoverRecord:
    return HandoverRecord(
        sender=row.sender,
        id=row.id,
        receiver=row.receiver,
        lines=tuple(
            HandoverLine(kind, subject, _dec(amount))
            for kind, subject, amount in json.loads(row.lines)
        ),
        status=row.status,
        logged_at_index=row.logged_at_index,
        settled_at_index=row.settled_at_index,
    )


def custody_row(record: CustodyRecord) -> tuple[object, ...]:
    return (
        record.index,
        record.n,
        record.kind,
        record.subject,
        record.action,
        record.source,
        record.target,
        _text(record.amount),
    )


CUSTODY_COLUMNS = ("idx", "n", "kind", "subject", "action", "source", "target", "amount")


def custody_from_row(row: Any) -> CustodyRecord:
    return CustodyRecord(
        row.idx, row.n, row.kind, row.subject, row.action, row.source, row.target, _dec(row.amount)
    )


def provenance_row(record: ProvenanceRecord) -> tuple[object, ...]:
    return (
        record.index,
        record.n,
        record.role,
        record.kind,
        record.subject,
        format_decimal(record.mass),
    )


PROVENANCE_COLUMNS = ("idx", "n", "role", "kind", "subject", "mass")


def provenance_from_row(row: Any) -> ProvenanceRecord:
    return ProvenanceRecord(row.idx, row.n, row.role, row.kind, row.subject, Decimal(row.mass))


class BatchDomain:
    """A ``DomainView`` over the tables plus the batch's own, not yet written, effects."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lots: dict[str, LotRecord | None] = {}
        self._items: dict[str, ItemRecord | None] = {}
        self._handovers: dict[tuple[str, str], HandoverRecord | None] = {}
        self._balances: dict[tuple[str, str], Decimal] = {}
        self._stored_balances: set[tuple[str, str]] = set()
        self._dirty_lots: dict[str, LotRecord] = {}
        self._dirty_items: dict[str, ItemRecord] = {}
        self._dirty_handovers: dict[tuple[str, str], HandoverRecord] = {}
        self._dirty_balances: set[tuple[str, str]] = set()
        self._stored_items: set[str] = set()
        self._stored_handovers: set[tuple[str, str]] = set()
        self._custody: list[tuple[object, ...]] = []
        self._provenance: list[tuple[object, ...]] = []
        self._all_holders: set[str] = set()  # lots whose every balance row is cached
        self._issuers: dict[str, str | None] = {}  # passport subject -> first issuer

    def preload(self, events: Iterable[Event]) -> None:
        """Read ahead everything ``events`` name, a few queries for the whole batch."""
        refs = References()
        for event in events:
            refs.add(event)
        wanted = refs.handovers - set(self._handovers)
        for key in wanted:
            self._handovers[key] = None
        # By their key (sender, id), a sender at a time: by id alone each batch scanned them all.
        for sender in sorted({sender for sender, _ in wanted}):
            ids = {hid for each, hid in wanted if each == sender}
            for row in self._rows(handovers, handovers.c.id, ids, handovers.c.sender == sender):
                key = (row.sender, row.id)
                record = self._handovers[key] = handover_from_row(row)
                self._stored_handovers.add(key)
                refs.add_handover(record)
        lot_ids = refs.lots - set(self._lots)
        for lot_id in lot_ids:
            self._lots[lot_id] = None
        for row in self._rows(lots, lots.c.id, lot_ids):
            self._lots[row.id] = lot_from_row(row)
        fresh = lot_ids - self._all_holders
        for row in self._rows(balances, balances.c.lot, fresh):
            key = (row.lot, row.holder)
            if key not in self._balances:
                self._balances[key] = Decimal(row.amount)
                self._stored_balances.add(key)
        self._all_holders |= fresh
        item_ids = refs.items - set(self._items)
        for item_id in item_ids:
            self._items[item_id] = None
        for row in self._rows(items, items.c.id, item_ids):
            self._items[row.id] = item_from_row(row)
            self._stored_items.add(row.id)

    def _rows(self, table: Table, column: Any, values: set[str], *where: Any) -> list[Any]:
        """``table``'s rows whose ``column`` is in ``values`` (and meet ``where``), in chunks."""
        ordered = sorted(values)
        found: list[Any] = []
        for start in range(0, len(ordered), PRELOAD_CHUNK):
            chunk = ordered[start : start + PRELOAD_CHUNK]
            found += self._conn.execute(select(table).where(column.in_(chunk), *where)).all()
        return found

    def lot(self, lot_id: str) -> LotRecord | None:
        if lot_id not in self._lots:
            row = self._conn.execute(select(lots).where(lots.c.id == lot_id)).first()
            self._lots[lot_id] = None if row is None else lot_from_row(row)
        return self._lots[lot_id]

    def balance(self, lot_id: str, holder: str) -> Decimal:
        key = (lot_id, holder)
        if key not in self._balances and lot_id in self._all_holders:
            return ZERO
        if key not in self._balances:
            row = self._conn.execute(
                select(balances.c.amount).where(
                    tuple_(balances.c.lot, balances.c.holder) == tuple_(lot_id, holder)
                )
            ).first()
            self._balances[key] = ZERO if row is None else Decimal(row.amount)
            if row is not None:
                self._stored_balances.add(key)
        return self._balances[key]

    def item(self, item_id: str) -> ItemRecord | None:
        if item_id not in self._items:
            row = self._conn.execute(select(items).where(items.c.id == item_id)).first()
            self._items[item_id] = None if row is None else item_from_row(row)
            if row is not None:
                self._stored_items.add(item_id)
        return self._items[item_id]

    def handover(self, sender: str, handover_id: str) -> HandoverRecord | None:
        key = (sender, handover_id)
        if key not in self._handovers:
            row = self._conn.execute(
                select(handovers).where(
                    (handovers.c.sender == sender) & (handovers.c.id == handover_id)
                )
            ).first()
            self._handovers[key] = None if row is None else handover_from_row(row)
            if row is not None:
                self._stored_handovers.add(key)
        return self._handovers[key]

    def passport_issuer(self, subject: str) -> str | None:
        if subject not in self._issuers:
            row = self._conn.execute(
                select(custody.c.target)
                .where(custody.c.subject == subject, custody.c.action == "passport")
                .order_by(custody.c.idx)
                .limit(1)
            ).first()
            self._issuers[subject] = None if row is None else row.target
        return self._issuers[subject]

    def apply(self, effects: Iterable[DomainEffect]) -> None:
        for effect in effects:
            if isinstance(effect, PutLot):
                self._lots[effect.record.id] = self._dirty_lots[effect.record.id] = effect.record
            elif isinstance(effect, SetBalance):
                key = (effect.lot, effect.holder)
                self.balance(*key)  # learn whether a row exists before it changes
                self._balances[key] = effect.amount
                self._dirty_balances.add(key)
            elif isinstance(effect, PutItem):
                self.item(effect.record.id)
                self._items[effect.record.id] = effect.record
                self._dirty_items[effect.record.id] = effect.record
            elif isinstance(effect, PutHandover):
                key = (effect.record.sender, effect.record.id)
                self.handover(*key)
                self._handovers[key] = self._dirty_handovers[key] = effect.record
            elif isinstance(effect, AddCustody):
                record = effect.record
                if record.action == "passport" and self.passport_issuer(record.subject) is None:
                    self._issuers[record.subject] = record.target
                self._custody.append(custody_row(record))
            elif isinstance(effect, AddProvenance):
                self._provenance.append(provenance_row(effect.record))

    def flush(self) -> None:
        conn = self._conn
        if self._dirty_lots:
            conn.execute(insert(lots), [lot_row(r) for r in self._dirty_lots.values()])
        changed: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        gone: list[dict[str, Any]] = []
        for key in self._dirty_balances:
            amount = self._balances[key]
            row = {"b_lot": key[0], "b_holder": key[1], "amount": _text(amount)}
            if key in self._stored_balances:
                (changed if amount else gone).append(row)
            elif amount:
                added.append({"lot": key[0], "holder": key[1], "amount": row["amount"]})
        by_key = (balances.c.lot == bindparam("b_lot")) & (
            balances.c.holder == bindparam("b_holder")
        )
        if changed:
            conn.execute(update(balances).where(by_key), changed)
        if gone:
            conn.execute(delete(balances).where(by_key), gone)
        if added:
            conn.execute(insert(balances), added)
        self._upsert(
            items,
            items.c.id == bindparam("b_id"),
            [(item_id in self._stored_items, {"b_id": item_id}, item_row(record))
             for item_id, record in self._dirty_items.items()],
        )  # fmt: skip
        self._upsert(
            handovers,
            (handovers.c.sender == bindparam("b_sender")) & (handovers.c.id == bindparam("b_id")),
            [(key in self._stored_handovers, {"b_sender": key[0], "b_id": key[1]},
              handover_row(record))
             for key, record in self._dirty_handovers.items()],
        )  # fmt: skip
        bulk_insert(conn, custody, CUSTODY_COLUMNS, self._custody)
        bulk_insert(conn, provenance, PROVENANCE_COLUMNS, self._provenance)

    def _upsert(
        self, table: Table, where: Any, rows: list[tuple[bool, dict[str, Any], dict[str, Any]]]
    ) -> None:
        """UPDATE the stored rows and INSERT the new ones, each as one executemany."""
        stored = [keys | values for exists, keys, values in rows if exists]
        new = [values for exists, _, values in rows if not exists]
        if stored:  # SET takes the column keys; WHERE takes the b_ bind parameters
            self._conn.execute(update(table).where(where), stored)
        if new:
            self._conn.execute(insert(table), new)
