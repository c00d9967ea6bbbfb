"""Directory queries: each actor's declared profile beside the track record the log proves.

A profile joins three sources: the operator's ``actor`` event (name, roles, facilities), the
actor's latest applied ``profile`` event (offers, certificates, contact, public figures — its
declarations) and the actor's applied entries, from which every figure is derived. No table of
its own: the figures are read from ``log_entries`` (the actor's own events, their times inside
the payloads), ``handovers``, ``provenance`` and ``lots``, and each figure names the entries
behind it (at most ``MAX_ENTRIES``, latest first, with the total).

The track record covers the twelve months up to ``on``; a figure is not ``complete`` when
the ``MAX_EVENTS`` bounds of ``ledger.store.track_record`` may have left out an entry inside
them (``Profile.complete``). Evidence that a process or material is really worked, or that a
certificate was carried, covers every applied entry read (the latest ``MAX_EVENTS`` of the
actor) signed on or before ``on``: work signed later proves nothing on that day. A profile
names the latest assessment the actor had signed by ``on`` (``Profile.assessment``), whose
level the API scores. Declarations (the latest profile) and the registration are read as they
stand now. Which figures the public may see is the actor's choice; this module derives them
all, the API hides.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, func, select, true

from ledger.assessment import AssessmentEvent
from ledger.directory_event import DEFAULT_PUBLIC, ProfileEvent
from ledger.errors import NotFoundError
from ledger.events import OPERATOR_ACTOR, ActorEvent, Event, Facility, parse_event
from ledger.profiles import (
    LIFECYCLE_PROCESSES,
    Candidate,
    HeldCertificate,
    Offer,
    Place,
)
from ledger.store.reads import chunks
from ledger.store.schema import actors, log_entries, lots
from ledger.store.track_figures import Figure, figures
from ledger.store.track_record import OWN_TYPES, History, assessed_by, histories, signed_by
from ledger.supply import LotLine, MaterialEvent, ProcessEvent

MAX_ACTORS: Final = 2000  # profiles a search reads
CHUNK: Final = 500  # values one IN list names
BATCH: Final = CHUNK // len(OWN_TYPES)  # actors read together: their history names them per type


class Profiles(list["Profile"]):
    """The profiles a search read; ``complete`` is False when more than ``MAX_ACTORS`` actors
    are registered, so that some (the last in actor id order) were not read at all."""

    complete: bool = True


@dataclass(frozen=True)
class Profile:
    actor: ActorEvent
    declared: tuple[int, ProfileEvent] | None  # (index, event) of the latest profile
    processes: tuple[Offer, ...]
    materials: tuple[Offer, ...]
    certificates: tuple[HeldCertificate, ...]
    figures: Mapping[str, Figure | None]  # None: no assessment / nothing to measure
    window: tuple[date, date]
    # The latest applied assessment signed on or before the window's end, (index, event), None
    # when there is none; ``profiles`` (a search, which ranks on no maturity) reads none.
    assessment: tuple[int, AssessmentEvent] | None = None
    # False: ``track_record.MAX_ASSESSMENTS`` were read, all signed after the window's end,
    # and older ones were not: the actor may have had an assessment by then.
    assessment_complete: bool = True

    @property
    def public_figures(self) -> tuple[str, ...]:
        return _made_public(self.declared)

    def visible(self, *, all_figures: bool) -> tuple[str, ...]:
        return tuple(self.figures) if all_figures else self.public_figures

    def complete(self, *, all_figures: bool) -> bool:
        """Whether every figure the viewer sees counts all the entries of the window: a hidden
        figure's gap is not said, so the answer tells nothing of what it hides."""
        shown = self.visible(all_figures=all_figures)
        if "maturity" in shown and not self.assessment_complete:
            return False
        return all(f is None or f.complete for n, f in self.figures.items() if n in shown)

    def candidate(self, *, all_figures: bool) -> Candidate:
        shown = self.visible(all_figures=all_figures)
        record: dict[str, Decimal] = {}
        for name, key in (("acceptance", "share"), ("certified", "share"), ("partners", "count")):
            figure = self.figures.get(name)
            if name in shown and figure is not None and figure.value.get(key) is not None:
                record[name] = Decimal(str(figure.value[key]))
        return Candidate(
            actor=self.actor.id,
            name=self.actor.name,
            country=self.actor.country,
            region=self.actor.region,
            places=tuple(place_of(f) for f in self.actor.facilities),
            processes=self.processes,
            materials=self.materials,
            certificates=self.certificates,
            record=record,
        )


def place_of(f: Facility) -> Place:
    """A registered facility as the directory's arithmetic sees it."""
    return Place(Decimal(f.lat), Decimal(f.lon), f.name, f.town, f.region, f.country)


def _payload(entry: bytes) -> bytes:
    return base64.b64decode(json.loads(bytes(entry))["payload"])


def _year_before(on: date) -> date:
    try:
        return on.replace(year=on.year - 1)
    except ValueError:  # 29 February
        return on.replace(year=on.year - 1, day=28)


def _actor_events(rows: Iterable[Any]) -> dict[str, ActorEvent]:
    found: dict[str, ActorEvent] = {}
    for row in rows:
        event = parse_event(bytes(row.profile))
        if isinstance(event, ActorEvent) and "operator" not in event.roles:
            found[event.id] = event
    return found


def registered(conn: Connection) -> tuple[dict[str, ActorEvent], bool]:
    """The latest ``actor`` event of the first ``MAX_ACTORS`` registered actors in id order,
    the operator left out; and whether that was every one of them."""
    rows = conn.execute(
        select(actors.c.profile)
        .where(actors.c.id != OPERATOR_ACTOR)
        .order_by(actors.c.id)
        .limit(MAX_ACTORS + 1)
    ).all()
    return _actor_events(rows[:MAX_ACTORS]), len(rows) <= MAX_ACTORS


def actors_named(conn: Connection, actor_ids: Iterable[str]) -> dict[str, ActorEvent]:
    """The latest ``actor`` event of each of ``actor_ids`` that is registered (not the
    operator), however many actors are registered."""
    found: dict[str, ActorEvent] = {}
    for part in chunks(sorted(set(actor_ids)), CHUNK):
        found.update(
            _actor_events(conn.execute(select(actors.c.profile).where(actors.c.id.in_(part))))
        )
    return found


def _declared(conn: Connection, actor_ids: Sequence[str]) -> dict[str, tuple[int, ProfileEvent]]:
    """Each actor's latest applied profile: one query a ``CHUNK`` of actors, each reading the
    index ``(actor, event_type, applied, idx)`` from its latest profile down."""
    found: dict[str, tuple[int, ProfileEvent]] = {}
    for part in chunks(sorted(set(actor_ids)), CHUNK):
        rank = func.row_number().over(
            partition_by=log_entries.c.actor, order_by=log_entries.c.idx.desc()
        )
        ranked = (
            select(log_entries.c.idx, rank.label("rank"))
            .where(log_entries.c.actor.in_(part), log_entries.c.event_type == "profile")
            .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
            .subquery()
        )
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.entry)
            .join_from(ranked, log_entries, log_entries.c.idx == ranked.c.idx)
            .where(ranked.c.rank == 1)
        )
        for row in rows:
            event = parse_event(_payload(row.entry))
            if isinstance(event, ProfileEvent):
                found[event.actor] = (row.idx, event)
    return found


def _made_public(declared: tuple[int, ProfileEvent] | None) -> tuple[str, ...]:
    """The figures a latest profile makes public; the default for an actor without one."""
    return made_public(None if declared is None else declared[1])


def made_public(declared: ProfileEvent | None) -> tuple[str, ...]:
    """The figures the latest profile ``declared`` makes public (None: the actor signed none)."""
    return DEFAULT_PUBLIC if declared is None else tuple(declared.public_figures)


def latest_profile_entry(actor: Any) -> Any:
    """The entry of the latest applied profile of the actor ``actor`` (a column of an outer
    query) as a scalar subquery, NULL when it signed none: one seek of the index
    ``(actor, event_type, applied, idx)``. Parse it with ``declaration``."""
    return (
        select(log_entries.c.entry)
        .where(log_entries.c.actor == actor, log_entries.c.event_type == "profile")
        .where(log_entries.c.applied == true())  # "IS true" would not seek on PostgreSQL
        .order_by(log_entries.c.idx.desc())
        .limit(1)
        .scalar_subquery()
    )


def declaration(entry: bytes | None) -> ProfileEvent | None:
    """The profile event of an entry ``latest_profile_entry`` found, None for none."""
    if entry is None:
        return None
    event = parse_event(_payload(entry))
    return event if isinstance(event, ProfileEvent) else None


def public_figures(conn: Connection, actor_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The figures each actor's latest applied profile makes public (the default without one)."""
    declared = _declared(conn, actor_ids)
    return {actor_id: _made_public(declared.get(actor_id)) for actor_id in actor_ids}


def profile(conn: Connection, actor_id: str, on: date) -> Profile:
    """The directory profile of ``actor_id`` with its track record up to ``on``."""
    found = actors_named(conn, [actor_id]).get(actor_id)
    if found is None:
        raise NotFoundError(f"no actor {actor_id} in the directory")
    assessment, complete = assessed_by(conn, actor_id, on)
    return replace(
        _profiles(conn, [found], {actor_id: found}, on)[0],
        assessment=assessment,
        assessment_complete=complete,
    )


def profiles(
    conn: Connection, on: date, keep: Callable[[ActorEvent], bool] | None = None
) -> Profiles:
    """The directory profiles of the actors ``keep`` accepts (all by default), in actor id
    order, among the first ``MAX_ACTORS`` registered (``complete`` says whether that was all).
    ``keep`` sees only the registration, so a search can drop actors out of reach or outside
    the region before their history is read."""
    everyone, complete = registered(conn)
    wanted = [a for a in everyone.values() if keep is None or keep(a)]
    found = Profiles()
    for part in chunks(wanted, BATCH):
        found.extend(_profiles(conn, part, everyone, on))
    found.complete = complete
    return found


def _counterparts(history: History) -> set[str]:
    sent = {event.to for _, event, _ in history.sent}
    return sent | {r.event.actor for r in history.received}


def _profiles(
    conn: Connection, part: Sequence[ActorEvent], known: Mapping[str, ActorEvent], on: date
) -> list[Profile]:
    """The profiles of ``part`` (at most ``BATCH`` actors), read together: a fixed number of
    queries, whatever the number of actors. ``known``: registrations already read; a
    counterpart of a handover that is not among them (past the ``MAX_ACTORS`` cut) is read
    here, for its facilities."""
    ids = [a.id for a in part]
    declared = _declared(conn, ids)
    history = histories(conn, ids)
    wanted = {i for h in history.values() for i in _counterparts(h)} | set(ids)
    places = {i: known[i] for i in wanted if i in known}
    places.update(actors_named(conn, wanted - set(places)))
    inputs = _input_materials(conn, (e for h in history.values() for e in h.making))
    start = _year_before(on)

    def within(event: Event) -> bool:
        return start.isoformat() <= event.time[:10] <= on.isoformat()

    def before(event: Event) -> bool:
        return event.time[:10] < start.isoformat()

    found = []
    for actor in part:
        signed = _signed_by_day(history[actor.id], on)
        offers = _offers(signed, declared.get(actor.id), inputs)
        found.append(
            Profile(
                actor=actor,
                declared=declared.get(actor.id),
                processes=offers[0],
                materials=offers[1],
                certificates=_certificates(signed, declared.get(actor.id)),
                figures=figures(history[actor.id], places, within, before),
                window=(start, on),
            )
        )
    return found


def _signed_by_day(history: History, on: date) -> History:
    """The part of ``history`` that evidences offers and certificates on ``on``: the making
    events and services signed on or before it."""
    by = signed_by(on)
    return History(
        making=[(i, e) for i, e in history.making if by(e)],
        services=[(i, e) for i, e in history.services if by(e)],
    )


def _input_materials(conn: Connection, making: Iterable[tuple[int, Event]]) -> dict[str, str]:
    wanted = sorted(
        {
            line.lot
            for _, e in making
            if isinstance(e, ProcessEvent)
            for line in e.inputs
            if isinstance(line, LotLine)
        }
    )
    found: dict[str, str] = {}
    for part in chunks(wanted, CHUNK):
        rows = conn.execute(select(lots.c.id, lots.c.material).where(lots.c.id.in_(part)))
        found.update((r.id, r.material) for r in rows)
    return found


def _offers(
    history: History, declared: tuple[int, ProfileEvent] | None, inputs: Mapping[str, str]
) -> tuple[tuple[Offer, ...], tuple[Offer, ...]]:
    """``inputs``: the material of each lot the making events consumed."""
    processes: dict[str, list[int]] = defaultdict(list)
    materials: dict[str, list[int]] = defaultdict(list)
    for idx, event in history.making:
        if isinstance(event, ProcessEvent):
            processes[event.process].append(idx)
            for line in event.inputs:
                if isinstance(line, LotLine) and line.lot in inputs:
                    materials[inputs[line.lot]].append(idx)
        if isinstance(event, MaterialEvent):
            materials[event.material].append(idx)
        for output in getattr(event, "outputs", []):
            materials[output.material].append(idx)
    for idx, service in history.services:
        for process in LIFECYCLE_PROCESSES[service.kind]:
            processes[process].append(idx)
    offered = [] if declared is None else declared[1].processes
    handled = [] if declared is None else declared[1].materials
    return _merge(offered, processes), _merge(handled, materials)


def _merge(declared: list[str], evidence: Mapping[str, list[int]]) -> tuple[Offer, ...]:
    ids = list(declared) + sorted(k for k in evidence if k not in declared)
    return tuple(
        Offer(i, i in declared, tuple(sorted(set(evidence.get(i, [])), reverse=True))) for i in ids
    )


def _certificates(
    history: History, declared: tuple[int, ProfileEvent] | None
) -> tuple[HeldCertificate, ...]:
    carried: dict[str, set[int]] = defaultdict(set)
    for idx, event in history.making:
        for cert in getattr(event, "certificates", []):
            carried[cert.scheme.casefold()].add(idx)
    held = [] if declared is None else declared[1].certificates
    return tuple(
        HeldCertificate(
            scheme=c.scheme,
            id=c.id,
            issuer=c.issuer,
            valid_from=date.fromisoformat(c.valid_from),
            valid_until=date.fromisoformat(c.valid_until),
            entries=tuple(sorted(carried.get(c.scheme.casefold(), set()), reverse=True)),
        )
        for c in held
    )
