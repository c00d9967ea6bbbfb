"""Maturity evidence: the automatic ledger metrics of one company, and its assessments.

Every metric is a share in [0, 1] (or None when there is nothing to measure), computed from the
applied entries up to a log index, so an assessment's evidence can be recomputed as it stood
when the assessment was logged. Each metric names the entries behind it (at most
``MAX_ENTRIES``, the latest). No table of its own: the metrics read ``log_entries``,
``provenance``, ``lots``, ``items``, ``handovers``, ``custody`` and ``actors``. The mean product
MCI needs ``scoring.product``, which the store may not import: the store names the passports
the company issued (``Evidence.passports``) and ``api.routes.maturity`` fills the metric in.

The company's inputs are what its applied process events consumed (provenance) plus their
declared untraced additions; a company that ran no process (a brand buying finished goods) is
measured on what it received through accepted handovers instead. What the metrics mean, and
their thresholds, are documented in docs/scoring.md (Maturity); scoring them is
``scoring.maturity``'s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from sqlalchemy import Connection, or_, select, true

from ledger.assessment import AssessmentEvent
from ledger.directory_event import DEFAULT_PUBLIC
from ledger.errors import NotFoundError
from ledger.events import ActorEvent, Event, parse_event
from ledger.rules import ItemRecord, LotRecord
from ledger.store.directory import declaration, latest_profile_entry, made_public
from ledger.store.domain import handover_from_row, item_from_row, lot_from_row
from ledger.store.passports import versions
from ledger.store.reads import chunks, latest_of_types
from ledger.store.schema import actors, custody, handovers, items, log_entries, lots, provenance
from ledger.supply import Certificate, MaterialEvent, ProcessEvent

MAX_ENTRIES: Final = 20  # entries named per metric
MAX_SCAN: Final = 5000  # the latest own events a metric reads
MAX_ASSESSMENTS: Final = 24  # history length
MAX_PASSPORTS: Final = 200  # passports whose product MCI the API averages
LOMBARDY: Final = frozenset({"lombardia", "lombardy"})
ZERO: Final = Decimal(0)
MCI_NOTE: Final = "computed by the API from the passports the company issued"


@dataclass(frozen=True)
class Metric:
    name: str
    value: Decimal | None  # numerator / denominator; None when the denominator is 0
    numerator: Decimal
    denominator: Decimal
    unit: str  # kg, handovers, events
    entries: tuple[int, ...]  # the log entries behind it, latest MAX_ENTRIES
    note: str | None = None


@dataclass(frozen=True)
class Evidence:
    upto: int  # the last log index considered
    metrics: dict[str, Metric]
    certificates: tuple[Certificate, ...]  # held by the company per its applied events
    passports: tuple[tuple[str, int, int], ...]  # (subject, version, its index) it issued


@dataclass(frozen=True)
class AssessmentRecord:
    index: int
    event: AssessmentEvent
    evidence: Evidence  # as it stood at ``index``


@dataclass(frozen=True)
class MaturityFacts:
    actor: ActorEvent  # the company's current registration
    evidence: Evidence  # now
    # oldest first: the first ever and the latest, at most MAX_ASSESSMENTS (``_assessments``)
    assessments: tuple[AssessmentRecord, ...]
    # What its latest profile makes public, read with the registration: the API hides the
    # maturity from the public when it is not among them.
    public_figures: tuple[str, ...] = DEFAULT_PUBLIC


@dataclass
class _Input:
    index: int
    kg: Decimal
    origin: str | None  # the actor that made it; None: untraced
    facility: str | None
    certified: Decimal  # certified fraction


@dataclass
class _Own:
    processes: list[tuple[int, ProcessEvent]] = field(default_factory=list)
    certificates: dict[tuple[str, str, str, str], Certificate] = field(default_factory=dict)


def _payload(entry: bytes) -> bytes:
    return base64.b64decode(json.loads(bytes(entry))["payload"])


def _events(
    conn: Connection, actor: str, kinds: Sequence[str], upto: int | None, limit: int = MAX_SCAN
) -> list[tuple[int, Event]]:
    """The actor's latest ``limit`` applied events of ``kinds`` (up to index ``upto``), oldest
    first."""
    rows = latest_of_types(conn, actor, kinds, limit=limit, upto=upto)
    return [(index, parse_event(_payload(entry))) for index, entry in reversed(rows)]


def _assessments(conn: Connection, actor: str, upto: int) -> list[tuple[int, Event]]:
    """The company's applied assessments up to ``upto``, oldest first: all of them, or when
    there are more than ``MAX_ASSESSMENTS``, the first ever and the latest ones after it (the
    company page compares today with the first assessment, not with the oldest one kept)."""
    latest = _events(conn, actor, ("assessment",), upto, limit=MAX_ASSESSMENTS)
    if len(latest) < MAX_ASSESSMENTS:
        return latest
    first = conn.execute(
        select(log_entries.c.idx, log_entries.c.entry)
        .where(log_entries.c.actor == actor, log_entries.c.event_type == "assessment")
        .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
        .order_by(log_entries.c.idx)
        .limit(1)
    ).one()
    if first.idx == latest[0][0]:
        return latest
    return [(first.idx, parse_event(_payload(bytes(first.entry)))), *latest[1:]]


def _own(conn: Connection, actor: str, upto: int) -> _Own:
    own = _Own()
    for index, event in _events(conn, actor, ("material", "process"), upto):
        if isinstance(event, ProcessEvent):
            own.processes.append((index, event))
        if isinstance(event, MaterialEvent | ProcessEvent):
            for c in event.certificates:
                own.certificates[(c.scheme, c.id, c.valid_from, c.valid_until)] = c
    return own


def _share(name: str, num: Decimal, den: Decimal, unit: str, entries: Iterable[int]) -> Metric:
    value = None if den <= 0 else num / den
    latest = tuple(sorted(set(entries))[-MAX_ENTRIES:])
    return Metric(name, value, num, den, unit, latest)


class _Subjects:
    """Lots and items read once per evidence: inputs name the same lots again and again."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lots: dict[str, LotRecord] = {}
        self.items: dict[str, ItemRecord] = {}

    def lot(self, lot_id: str) -> LotRecord:
        if lot_id not in self.lots:
            row = self.conn.execute(select(lots).where(lots.c.id == lot_id)).one()
            self.lots[lot_id] = lot_from_row(row)
        return self.lots[lot_id]

    def item(self, item_id: str) -> ItemRecord:
        if item_id not in self.items:
            row = self.conn.execute(select(items).where(items.c.id == item_id)).one()
            self.items[item_id] = item_from_row(row)
        return self.items[item_id]

    def input(self, index: int, kind: str, subject: str, kg: Decimal) -> _Input:
        if kind == "lot":
            lot = self.lot(subject)
            claim, origin, facility = lot.claim, lot.origin, lot.facility
        else:
            made = self.item(subject)
            claim, origin, facility = made.claim, made.maker, None
        certified = ZERO if claim is None else Decimal(claim.certified_fraction)
        return _Input(index, kg, origin, facility, certified)


def _consumed(conn: Connection, processes: list[tuple[int, ProcessEvent]]) -> list[_Input]:
    subjects = _Subjects(conn)
    found: list[_Input] = []
    for chunk in chunks([index for index, _ in processes]):
        rows = conn.execute(
            select(provenance.c.idx, provenance.c.kind, provenance.c.subject, provenance.c.mass)
            .where(provenance.c.idx.in_(chunk), provenance.c.role == "input")
            .order_by(provenance.c.idx, provenance.c.n)
        ).all()
        found += [subjects.input(r.idx, r.kind, r.subject, Decimal(r.mass)) for r in rows]
    for index, event in processes:
        for extra in event.untraced:
            per = None if extra.mass_per_unit is None else extra.mass_per_unit.quantity
            found.append(_Input(index, extra.quantity.quantity.as_mass(per), None, None, ZERO))
    return found


def _received(conn: Connection, actor: str, upto: int) -> list[_Input]:
    rows = conn.execute(
        select(handovers)
        .where(handovers.c.receiver == actor, handovers.c.status == "accepted")
        .where(handovers.c.settled_at_index <= upto)
        .order_by(handovers.c.settled_at_index)
        .limit(MAX_SCAN)
    ).all()
    subjects = _Subjects(conn)
    found: list[_Input] = []
    for row in rows:
        index = row.settled_at_index
        for line in handover_from_row(row).lines:
            if line.kind == "lot" and line.amount is not None:
                kg = subjects.lot(line.subject).mass(line.amount)
                found.append(subjects.input(index, "lot", line.subject, kg))
            elif line.kind == "item":
                kg = subjects.item(line.subject).mass
                found.append(subjects.input(index, "item", line.subject, kg))
    return found


def _places(conn: Connection, origins: set[str]) -> dict[tuple[str, str | None], tuple[str, str]]:
    """(region, country) of each origin actor's facilities, keyed by (actor, facility)."""
    places: dict[tuple[str, str | None], tuple[str, str]] = {}
    for row in conn.execute(select(actors.c.profile).where(actors.c.id.in_(sorted(origins)))):
        profile = parse_event(bytes(row.profile))
        if not isinstance(profile, ActorEvent):
            continue
        home = (profile.region or "", profile.country)
        places[(profile.id, None)] = home
        for i, f in enumerate(profile.facilities):
            places[(profile.id, f.id)] = (f.region or "", f.country)
            if i == 0:
                places[(profile.id, None)] = (f.region or "", f.country)
    return places


def _input_metrics(conn: Connection, inputs: list[_Input]) -> list[Metric]:
    total = sum((i.kg for i in inputs), ZERO)
    traced = [i for i in inputs if i.origin is not None]
    places = _places(conn, {i.origin for i in traced if i.origin is not None})

    def where(i: _Input) -> tuple[str, str]:
        assert i.origin is not None
        return places.get((i.origin, i.facility)) or places.get((i.origin, None)) or ("", "")

    lombard = [i for i in traced if where(i)[0].casefold() in LOMBARDY]
    italian = [i for i in traced if where(i)[1] == "IT"]
    certified = [i for i in traced if i.certified > 0]

    def kg(chosen: list[_Input]) -> Decimal:
        return sum((i.kg for i in chosen), ZERO)

    return [
        _share("traceability_coverage", kg(traced), total, "kg", (i.index for i in traced)),
        _share(
            "certified_share",
            sum((i.kg * i.certified for i in certified), ZERO),
            total,
            "kg",
            (i.index for i in certified),
        ),
        _share("local_share_lombardy", kg(lombard), total, "kg", (i.index for i in lombard)),
        _share("local_share_italy", kg(italian), total, "kg", (i.index for i in italian)),
    ]


def _receipts(conn: Connection, actor: str, upto: int) -> Metric:
    rows = conn.execute(
        select(handovers.c.status, handovers.c.settled_at_index)
        .where(or_(handovers.c.sender == actor, handovers.c.receiver == actor))
        .where(handovers.c.logged_at_index <= upto)
    ).all()
    accepted = [
        r.settled_at_index
        for r in rows
        if r.status == "accepted" and r.settled_at_index is not None and r.settled_at_index <= upto
    ]
    count = Decimal(len(accepted))
    return _share("signed_receipts_share", count, Decimal(len(rows)), "handovers", accepted)


def _process_metrics(processes: list[tuple[int, ProcessEvent]]) -> list[Metric]:
    social = [i for i, e in processes if e.workforce is not None]
    env = [i for i, e in processes if e.energy_kwh is not None or e.water_l is not None]
    total = Decimal(len(processes))
    return [
        _share("social_data_coverage", Decimal(len(social)), total, "events", social),
        _share("environmental_data_coverage", Decimal(len(env)), total, "events", env),
    ]


def _issued(conn: Connection, actor: str, upto: int) -> tuple[tuple[str, int, int], ...]:
    subjects = conn.execute(
        select(custody.c.subject)
        .where(custody.c.action == "passport", custody.c.target == actor, custody.c.idx <= upto)
        .group_by(custody.c.subject)
        .order_by(custody.c.subject)
        .limit(MAX_PASSPORTS)
    ).scalars()
    found = []
    for subject in list(subjects):
        before = [v for v in versions(conn, subject) if v.index <= upto]
        if before:
            found.append((subject, before[-1].number, before[-1].index))
    return tuple(found)


def evidence(conn: Connection, actor: str, upto: int) -> Evidence:
    """The metrics of ``actor`` over the applied entries up to index ``upto``."""
    own = _own(conn, actor, upto)
    inputs = _consumed(conn, own.processes) if own.processes else _received(conn, actor, upto)
    metrics = [
        *_input_metrics(conn, inputs),
        _receipts(conn, actor, upto),
        *_process_metrics(own.processes),
        Metric("mean_product_mci", None, ZERO, ZERO, "products", (), MCI_NOTE),
    ]
    certificates = tuple(own.certificates.values())
    return Evidence(upto, {m.name: m for m in metrics}, certificates, _issued(conn, actor, upto))


def _company(conn: Connection, actor: str) -> tuple[ActorEvent, tuple[str, ...]]:
    """The company's registration and the figures its latest profile makes public: one
    statement, the registration by key and the profile by one index seek."""
    declared = latest_profile_entry(actors.c.id).label("declared")
    row = conn.execute(select(actors.c.profile, declared).where(actors.c.id == actor)).first()
    if row is None:
        raise NotFoundError(f"unknown actor {actor}")
    profile = parse_event(bytes(row.profile))
    assert isinstance(profile, ActorEvent)
    if "operator" in profile.roles:  # it signs the registry, not a company's work
        raise NotFoundError(f"{actor} is the ledger's operator, not a company with a maturity")
    found = None if row.declared is None else bytes(row.declared)
    return profile, made_public(declaration(found))


def latest_assessments(conn: Connection, actor_ids: Sequence[str]) -> dict[str, AssessmentEvent]:
    """Each actor's latest applied self-assessment, for those that signed one: one index seek
    an actor, none of the evidence ``maturity_facts`` computes."""
    found: dict[str, AssessmentEvent] = {}
    for actor in actor_ids:
        for _, event in _events(conn, actor, ("assessment",), None, limit=1):
            if isinstance(event, AssessmentEvent):
                found[actor] = event
    return found


def maturity_facts(
    conn: Connection, actor: str, shown: Callable[[tuple[str, ...]], bool] | None = None
) -> MaturityFacts:
    """The company's registration and public figures, its evidence now, and its latest
    assessments with theirs. ``shown`` is asked, given the figures the company makes public,
    whether the caller may see its maturity: if not, NotFoundError before the evidence is read
    (a refusal costs one statement)."""
    profile, public = _company(conn, actor)
    if shown is not None and not shown(public):
        raise NotFoundError(f"{actor} does not make its maturity public")
    size = conn.execute(select(log_entries.c.idx).order_by(log_entries.c.idx.desc()).limit(1))
    now = size.scalar_one()
    records = [
        AssessmentRecord(index, event, evidence(conn, actor, index))
        for index, event in _assessments(conn, actor, now)
        if isinstance(event, AssessmentEvent)
    ]
    return MaturityFacts(profile, evidence(conn, actor, now), tuple(records), public)
