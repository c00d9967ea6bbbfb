"""Every error of the tree survives pickle with its members.

A process pool (``ProcessPoolExecutor``, ``multiprocessing``) hands an error raised in a worker
back to its parent pickled. Pickle rebuilds an exception by calling its class with ``args``,
the message alone for every leaf whose constructor takes its members: ``KeyOwnerError`` and
``EquivocationError`` (keyword-only), ``RuleViolation``, ``RefusedEnvelope`` … crashed the
parent with a ``TypeError`` instead of re-raising the error the worker raised.

The subclasses are found by walking ``LedgerError.__subclasses__`` once every module of the
project is imported; each is built the way the code raising it does.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from ledger.errors import (
    FeedError,
    KeyOwnerError,
    LedgerError,
    UnknownKeyError,
)

PACKAGES = ("ledger", "api", "passports", "scoring", "signer", "verifier", "spola")

KEY = "ed25519:5f1c0a"
ACTOR = "urn:spola:actor:seteria"

# Leaves whose constructor takes more than a message, built as the code raising them does.
# A leaf that gains such a constructor needs a line here: the walk below says which.
BUILT: dict[str, Callable[[type[Any]], LedgerError]] = {
    "ledger.errors.KeyOwnerError": lambda cls: cls(
        key_id=KEY, owner=ACTOR, claimed="urn:spola:actor:tintoria"
    ),
    "ledger.errors.EquivocationError": lambda cls: cls(
        f"equivocation: key {KEY} already signed a different event at seq 3 (log index 41)",
        key_id=KEY,
        seq=3,
        existing_index=41,
    ),
    "ledger.errors.RootMismatchError": lambda cls: cls(expected=bytes(32), computed=b"\x01" * 32),
    "ledger.errors.RuleViolation": lambda cls: cls("balance", "takes 80 KGM of 70 KGM held"),
    "ledger.errors.RefusedEnvelope": lambda cls: cls(
        2, UnknownKeyError(f"unknown key {KEY}: register it with a key event first")
    ),
    "ledger.store.admission.Refusals": lambda cls: cls(
        1,
        {1: UnknownKeyError(f"unknown key {KEY}: register it with a key event first")},
        again={3: FeedError(f"feed gap: key {KEY} expects seq 1, got 2")},
        checked=True,
    ),
    "ledger.store.rebuild.DamagedFileError": lambda cls: cls(
        "*** in database main *** Page 98 is never used"
    ),
    "ledger.replay.ReplayError": lambda cls: cls(
        7, FeedError(f"feed gap: key {KEY} expects seq 1, got 2")
    ),
    "ledger.geo.CoordinateError": lambda cls: cls(
        "latitude", "must be a number of degrees in [-90, 90]"
    ),
    "ledger.assessment.NewerModelError": lambda cls: cls("2.0", "1.0"),
    "ledger.store.rebuild.DamagedLogError": lambda cls: cls(
        "entry 4 is missing (the log runs to 7)"
    ),
    "scoring.errors.ScoringInputError": lambda cls: cls(
        "weighting", "is mass or revenue, not 'volume'"
    ),
    "signer.errors.TransportError": lambda cls: cls(
        "the ledger answered 503 to /v1/entries", retry_after=2.5
    ),
    "signer.errors.RefusedBatchError": lambda cls: cls(
        "the ledger refused POST /v1/entries (422 feed-gap): feed gap",
        status=422,
        kind="feed-gap",
        detail="feed gap",
        position=0,
        members={"key_id": KEY},
    ),
}


def _subclasses(root: type[LedgerError]) -> Iterator[type[LedgerError]]:
    for cls in root.__subclasses__():
        yield cls
        yield from _subclasses(cls)


def _error_tree() -> list[type[LedgerError]]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for found in pkgutil.walk_packages(module.__path__, package + "."):
            if not found.name.endswith("__main__"):  # runs a command when imported
                importlib.import_module(found.name)
    tree = {LedgerError, *_subclasses(LedgerError)}
    return sorted(tree, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def _name(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _built_by(cls: type[LedgerError]) -> Callable[[type[Any]], LedgerError]:
    """How the code builds ``cls``: the entry of its own class, or of the nearest ancestor
    whose constructor it inherits; a message, for a constructor inherited from Exception."""
    for ancestor in cls.__mro__:
        if not issubclass(ancestor, LedgerError):
            break
        if _name(ancestor) in BUILT:
            return BUILT[_name(ancestor)]
        if "__init__" in vars(ancestor):
            pytest.fail(f"{_name(ancestor)} has its own constructor: add it to BUILT")
    return lambda cls: cls("a message the code would give")


def _said(error: BaseException) -> tuple[Any, ...]:
    """Everything an error carries: its class, message, args and members (nested errors
    compared by what they carry, as an exception equals only itself)."""

    def carried(value: Any) -> Any:
        if isinstance(value, dict):  # errors by position (a batch's refusals)
            return {key: carried(item) for key, item in value.items()}
        return _said(value) if isinstance(value, BaseException) else value

    members = {name: carried(value) for name, value in vars(error).items()}
    return type(error), str(error), tuple(carried(a) for a in error.args), members


@pytest.mark.parametrize("cls", _error_tree(), ids=_name)
def test_every_error_survives_pickle_with_its_members(cls: type[LedgerError]) -> None:
    error = _built_by(cls)(cls)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(error, protocol=protocol))
        assert _said(again) == _said(error), protocol


def test_the_walk_finds_the_leaves_that_take_their_members() -> None:
    names = {_name(cls) for cls in _error_tree()}
    assert set(BUILT) <= names, set(BUILT) - names
    assert "signer.errors.BlockedQueueError" in names  # inherits RefusedBatchError's


def _refuse_the_owner(key_id: str) -> None:
    raise KeyOwnerError(key_id=key_id, owner=ACTOR, claimed="urn:spola:actor:tintoria")


def test_a_process_pool_re_raises_a_worker_s_key_owner_error() -> None:
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_refuse_the_owner, KEY)
        with pytest.raises(KeyOwnerError) as refused:
            future.result(timeout=60)
    assert (refused.value.key_id, refused.value.owner) == (KEY, ACTOR)
    assert str(refused.value).startswith(f"key {KEY} belongs to {ACTOR}")
