"""``LedgerStore``: the one object the API and the CLI talk to for the log.

It owns an engine, the sequencer (the only writer) and the read queries, and it knows the
operator: the log key that signs checkpoints and the operator's own registry events. The genesis
entry — index 0 — is the operator's ``actor`` registration signed by the log key, which is how a
verifier that knows only the log key anchors the key history it replays (``ledger.store.genesis``
writes it and checks that a database holds this operator's log).

A second engine may serve reads: a PostgreSQL streaming replica of the primary (``open(...,
read_url=...)``). Only the read paths that tolerate a little lag use it (``read_connect``): the
log's entries, proofs and checkpoint, the passports and their attestation, lots, items and
traces. Each of those reads its checkpoint and its proofs from the replica in one call, so they
agree with each other, though they may trail the primary by the replica's lag. Everything that
writes or must see its own writes — appends, operator events, the registry, verdicts, tokens,
the tree size ``/healthz`` reports — stays on the primary. The replica is never migrated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger.assessment import AssessmentEvent
from ledger.envelope import Envelope
from ledger.errors import FormatError, LedgerError
from ledger.events import ActorEvent
from ledger.feed import FeedHead
from ledger.keys import PrivateKey
from ledger.note import vkey
from ledger.passport import PassportFacts
from ledger.receipt import Receipt
from ledger.registry import ActorRecord, KeyRecord
from ledger.rules import CustodyRecord, ItemRecord
from ledger.store import circularity as circularity_queries
from ledger.store import directory as directory_queries
from ledger.store import maturity as maturity_queries
from ledger.store import passports as passport_queries
from ledger.store import queries, reads, rows
from ledger.store import tokens as token_store
from ledger.store.attest import Attestation, attest
from ledger.store.engine import WRITE, make_engine, upgrade
from ledger.store.epcis import EpcisFilter, EpcisPage, epcis_page
from ledger.store.genesis import check_genesis, genesis_fields
from ledger.store.rebuild import Progress, RebuildReport, rebuild
from ledger.store.sequencer import Sequencer
from ledger.verdicts import VerdictStatement, sign_verdicts

log = logging.getLogger(__name__)


class StoreUnavailableError(LedgerError):
    """The database URL is malformed, its driver missing, or the server does not answer."""


def _open_engine(url: str, *, migrate: bool) -> Engine:
    """An engine for ``url``: migrated (the primary), or only reached (a read replica)."""
    engine = None
    try:
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        else:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        if engine is not None:
            engine.dispose()
        # A bad URL (ValueError from the port, say), a missing driver, a server that
        # does not answer: one clear line for whoever typed the URL.
        shown = url.rsplit("@", maxsplit=1)[-1] if "@" in url else url  # no credentials
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreUnavailableError(f"cannot open the database {shown}: {reason}") from exc
    except LedgerError:  # a schema newer than this code: said by upgrade itself
        if engine is not None:
            engine.dispose()
        raise
    return engine


class LedgerStore:
    def __init__(
        self,
        engine: Engine,
        *,
        operator: PrivateKey,
        origin: str,
        max_batch: int = 1000,
        read_engine: Engine | None = None,
    ) -> None:
        self.engine = engine
        self.read_engine = engine if read_engine is None else read_engine
        self.origin = origin
        self._operator = operator
        self.sequencer = Sequencer(engine, operator=operator, origin=origin, max_batch=max_batch)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        operator: PrivateKey,
        origin: str,
        max_batch: int = 1000,
        read_url: str | None = None,
    ) -> LedgerStore:
        """Open (and migrate) the database at ``url`` and make sure the log has its genesis.

        ``read_url``, if given, names a read replica of that database for ``read_connect``;
        it is connected to once here, and never migrated or written.
        """
        engine = _open_engine(url, migrate=True)
        try:
            reader = None if read_url is None else _open_engine(read_url, migrate=False)
        except BaseException:
            engine.dispose()
            raise
        store = cls(
            engine, operator=operator, origin=origin, max_batch=max_batch, read_engine=reader
        )
        try:
            store.ensure_genesis()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def log_vkey(self) -> str:
        """The C2SP verifier key of the log: ``origin+hexkeyid+base64(0x01||pubkey)``."""
        return vkey(self.origin, self._operator.public_key.raw)

    @property
    def operator_key_id(self) -> str:
        return self._operator.public_key.key_id

    def sign_verdicts(self, statement: VerdictStatement) -> bytes:
        """The log key's signed statement of a partial bundle's verdicts (``ledger.verdicts``)."""
        if statement.origin != self.origin:
            raise FormatError(f"verdicts of origin {statement.origin!r}, not this log's")
        return sign_verdicts(statement, self._operator)

    def connect(self) -> Connection:
        """A connection to the primary: it sees every write as soon as it is committed."""
        return self.engine.connect()

    def read_connect(self) -> Connection:
        """A connection to the read replica (the primary when there is none); it may lag."""
        return self.read_engine.connect()

    # -- reading: each call one connection, one query module function -------------------------

    def tree_size(self) -> int:
        with self.connect() as conn:
            return reads.tree_size(conn)

    def read_tree_size(self) -> int:
        """The tree size the reads see: the replica's, which may trail the primary's."""
        with self.read_connect() as conn:
            return reads.tree_size(conn)

    def latest_checkpoint(self) -> bytes:
        with self.read_connect() as conn:
            return reads.latest_checkpoint(conn)[1]

    def entries(self, start: int, end: int) -> list[reads.StoredEntry]:
        with self.read_connect() as conn:
            return reads.entries(conn, start, end)

    def entries_page(self, start: int, end: int) -> tuple[list[reads.StoredEntry], int]:
        """Entries ``[start, end)`` and the tree size, both from the same (read) database, so a
        lagging replica never pairs its entries with the primary's size."""
        with self.read_connect() as conn:
            return reads.entries(conn, start, end), reads.tree_size(conn)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self.inclusion_proof_at(index, size)[2]

    def inclusion_proof_at(
        self, index: int | None, size: int | None = None, *, leaf: bytes | None = None
    ) -> tuple[int, int, list[bytes]]:
        """(index, tree size, proof) for ``index`` or the entry with leaf hash ``leaf``.

        One connection, and the current size when ``size`` is None.
        """
        with self.read_connect() as conn:
            if index is None:
                assert leaf is not None
                index = reads.index_of_leaf(conn, leaf)
            size, proof = reads.inclusion_proof(conn, index, size)
            return index, size, proof

    def feed_heads(self, key_ids: set[str]) -> dict[str, FeedHead]:
        """The last event each of ``key_ids`` has in the log (keys without one are left out)."""
        with self.connect() as conn:
            return rows.feed_heads(conn, key_ids)

    def index_of_leaf(self, leaf: bytes) -> int:
        with self.read_connect() as conn:
            return reads.index_of_leaf(conn, leaf)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return self.consistency_proof_at(first, second)[1]

    def consistency_proof_at(
        self, first: int, second: int | None = None
    ) -> tuple[int, list[bytes]]:
        """(second, proof); the current size when ``second`` is None. One connection."""
        with self.read_connect() as conn:
            return reads.consistency_proof(conn, first, second)

    def root_at(self, size: int) -> bytes:
        with self.read_connect() as conn:
            return reads.root_at(conn, size)

    def receipt(self, index: int) -> Receipt:
        with self.read_connect() as conn:
            return reads.receipt_for(conn, index)

    def key(self, key_id: str) -> KeyRecord:
        with self.connect() as conn:
            return reads.key(conn, key_id)

    def actors(self, *, offset: int, limit: int) -> list[ActorRecord]:
        with self.connect() as conn:
            return reads.actor_list(conn, offset=offset, limit=limit)

    def actor(self, actor_id: str) -> tuple[ActorRecord, list[KeyRecord]]:
        with self.connect() as conn:
            return reads.actor(conn, actor_id)

    def verdict(self, index: int) -> reads.StoredEntry:
        with self.connect() as conn:
            return reads.entry(conn, index)

    def lot(self, lot_id: str) -> queries.LotView:
        with self.read_connect() as conn:
            return queries.lot(conn, lot_id)

    def item(self, item_id: str) -> ItemRecord:
        with self.read_connect() as conn:
            return queries.item(conn, item_id)

    def custody_history(self, subject: str, *, limit: int) -> list[CustodyRecord]:
        with self.read_connect() as conn:
            return queries.custody_history(conn, subject, limit=limit)

    def holdings(self, actor_id: str, *, limit: int) -> queries.Holdings:
        with self.read_connect() as conn:
            return queries.holdings(conn, actor_id, limit=limit)

    def trace(
        self, kind: queries.Kind, subject: str, *, cursor: int, limit: int
    ) -> tuple[queries.TracePage, dict[int, dict[str, Any]]]:
        """A page of the upstream trace and the signed payloads of its making events."""
        with self.read_connect() as conn:
            page = queries.trace(conn, kind, subject, cursor=cursor, limit=limit)
            made = {n.made_at for n in page.nodes if n.made_at is not None}
            return page, {index: queries.payload_of(conn, index) for index in sorted(made)}

    def passports(
        self, *, after: str | None, limit: int, subjects: Sequence[str] | None = None
    ) -> list[passport_queries.PassportRow]:
        """Passports in subject order after ``after`` (``subjects``: only those)."""
        with self.read_connect() as conn:
            return passport_queries.passport_list(conn, after=after, limit=limit, subjects=subjects)

    def passport_count(self) -> int:
        """How many items have a passport (``ledger.store.passports``)."""
        with self.read_connect() as conn:
            return passport_queries.passport_count(conn)

    def passport_facts(self, subject: str, version: int | None = None) -> PassportFacts:
        """The facts behind a version (the latest when None) of the passport of ``subject``."""
        with self.read_connect() as conn:
            return passport_queries.facts(conn, subject, version)

    def directory_profile(self, actor_id: str, on: date) -> directory_queries.Profile:
        """An actor's directory profile, its track record up to ``on`` (``store.directory``)."""
        with self.connect() as conn:
            return directory_queries.profile(conn, actor_id, on)

    def directory_profiles(
        self, on: date, keep: Callable[[ActorEvent], bool] | None = None
    ) -> directory_queries.Profiles:
        """The directory profiles of the actors ``keep`` accepts (``ledger.store.directory``)."""
        with self.connect() as conn:
            return directory_queries.profiles(conn, on, keep)

    def public_figures(self, actor_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """What each actor's latest profile makes public (``ledger.store.directory``)."""
        with self.read_connect() as conn:
            return directory_queries.public_figures(conn, actor_ids)

    def maturity(
        self, actor_id: str, shown: Callable[[tuple[str, ...]], bool] | None = None
    ) -> maturity_queries.MaturityFacts:
        """A company's profile, maturity evidence and assessments (``ledger.store.maturity``);
        ``shown``: see ``maturity_facts``."""
        with self.read_connect() as conn:
            return maturity_queries.maturity_facts(conn, actor_id, shown)

    def latest_assessments(self, actor_ids: Sequence[str]) -> dict[str, AssessmentEvent]:
        """Each actor's latest self-assessment, if it signed one (``ledger.store.maturity``)."""
        with self.read_connect() as conn:
            return maturity_queries.latest_assessments(conn, actor_ids)

    def actor_flows(self, actor_id: str, *, limit: int) -> circularity_queries.ActorFlows:
        """An actor's inflows, outflows and issued passports (``ledger.store.circularity``)."""
        with self.connect() as conn:
            return circularity_queries.actor_flows(conn, actor_id, limit=limit)

    def attest(self, indexes: Iterable[int]) -> Attestation:
        """Re-check the signatures and inclusion proofs of ``indexes`` (``ledger.store.attest``)."""
        with self.read_connect() as conn:
            return attest(conn, indexes, log_vkey=self.log_vkey, origin=self.origin)

    def rebuild(self, *, repair: bool = False, progress: Progress | None = None) -> RebuildReport:
        """Replay the log; compare (and with ``repair`` rewrite) every projection."""
        return rebuild(self.engine, self.sequencer.log_key, repair=repair, progress=progress)

    def epcis_events(self, where: EpcisFilter, *, cursor: int, limit: int) -> EpcisPage:
        """A page of applied supply-chain entries as EPCIS 2.0 events (``ledger.store.epcis``)."""
        with self.connect() as conn:
            return epcis_page(conn, where, cursor=cursor, limit=limit)

    # -- writing ---------------------------------------------------------------------------

    def append(self, envelopes: Sequence[Envelope]) -> list[Receipt]:
        return self.sequencer.append(envelopes)

    def ensure_genesis(self, *, name: str = "spola ledger operator") -> None:
        """Append the genesis entry to an empty log; refuse a log another key started
        (``ledger.store.genesis``)."""
        receipts = self.sequencer.append_operator(genesis_fields(name), only_genesis=True)
        if receipts:
            log.info("genesis: log %s started by key %s", self.origin, self.operator_key_id)
        with self.connect() as conn:
            check_genesis(conn, key_id=self.operator_key_id, origin=self.origin)

    def operator_event(self, fields: dict[str, Any]) -> Receipt:
        """Sign ``fields`` as the operator's next event and append it (seq read under lock)."""
        return self.sequencer.append_operator(fields)[0]

    # -- API tokens (``ledger.store.tokens``): operator state beside the log ------------------

    def create_token(
        self, *, tier: str, actor: str | None, label: str | None = None,
        valid_until: date | None = None,
    ) -> tuple[str, str]:  # fmt: skip
        """(token id, token text); the text is shown once and only its hash is stored.
        ``valid_until`` is its last day (UTC, inclusive); None gives it none."""
        with self.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            return token_store.create(
                conn, tier=tier, actor=actor, label=label, valid_until=valid_until
            )

    def resolve_token(self, presented: str) -> token_store.Viewer | None:
        """The viewer a presented token stands for; None if it is not a valid, live token."""
        with self.connect() as conn:
            return token_store.resolve(conn, presented)

    def revoke_token(self, token_id: str) -> token_store.TokenRecord:
        with self.engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            return token_store.revoke(conn, token_id)

    def tokens(self) -> list[token_store.TokenRecord]:
        with self.connect() as conn:
            return token_store.list(conn)

    def close(self) -> None:
        self.sequencer.close()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
