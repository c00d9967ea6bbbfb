"""The demo supply chain, appended through the same path as every client's events.

Idempotent: actors already registered are left alone, so ``spola demo`` can run at every start.
The demo actors are fictional workshops placed in real towns of the Lombardy fashion district
and beyond; their terminal keys live in ``$SPOLA_HOME/demo-keys/`` so reruns sign with the same
keys. The domain issue grows this into materials, processes and handovers.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.operator import write_private
from ledger.envelope import sign_envelope
from ledger.errors import NotFoundError
from ledger.events import encode_event, event_time_now
from ledger.feed import payload_digest
from ledger.keys import PrivateKey
from ledger.store.ledger import LedgerStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoActor:
    slug: str
    name: str
    roles: tuple[str, ...]
    town: str
    region: str
    country: str
    lat: str
    lon: str

    @property
    def id(self) -> str:
        return f"urn:spola:actor:{self.slug}"


DEMO_ACTORS = (
    DemoActor(
        "setificio-lariano",
        "Setificio Lariano (demo)",
        ("supplier",),
        "Como",
        "Lombardia",
        "IT",
        "45.8081",
        "9.0852",
    ),
    DemoActor(
        "lanificio-valle-cervo",
        "Lanificio Valle Cervo (demo)",
        ("supplier",),
        "Biella",
        "Piemonte",
        "IT",
        "45.5629",
        "8.0583",
    ),
    DemoActor(
        "conceria-del-serio",
        "Conceria del Serio (demo)",
        ("supplier",),
        "Bergamo",
        "Lombardia",
        "IT",
        "45.6983",
        "9.6773",
    ),
    DemoActor(
        "atelier-brera",
        "Atelier Brera (demo)",
        ("supplier",),
        "Milano",
        "Lombardia",
        "IT",
        "45.4719",
        "9.1881",
    ),
    DemoActor(
        "maison-navigli",
        "Maison Navigli (demo)",
        ("brand",),
        "Milano",
        "Lombardia",
        "IT",
        "45.4520",
        "9.1760",
    ),
    DemoActor(
        "sartoria-riparo",
        "Sartoria Riparo (demo)",
        ("repairer",),
        "Monza",
        "Lombardia",
        "IT",
        "45.5845",
        "9.2744",
    ),
    DemoActor(
        "rigenera-tessile",
        "Rigenera Tessile (demo)",
        ("recycler",),
        "Prato",
        "Toscana",
        "IT",
        "43.8777",
        "11.1022",
    ),
)


def _terminal_key(home: Path, slug: str, generation: int) -> PrivateKey:
    folder = home / "demo-keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{slug}.{generation}.key"
    if path.exists():
        return PrivateKey.from_seed(base64.b64decode(path.read_text().strip()))
    key = PrivateKey.generate()
    write_private(path, base64.b64encode(key.seed).decode() + "\n")
    return key


def _register(store: LedgerStore, actor: DemoActor) -> None:
    store.operator_event(
        {
            "type": "actor",
            "op": "register",
            "id": actor.id,
            "name": actor.name,
            "roles": list(actor.roles),
            "country": actor.country,
            "region": actor.region,
            "facilities": [
                {
                    "id": "main",
                    "name": actor.name,
                    "town": actor.town,
                    "region": actor.region,
                    "country": actor.country,
                    "lat": actor.lat,
                    "lon": actor.lon,
                }
            ],
        }
    )


def _add_key(store: LedgerStore, actor: DemoActor, key: PrivateKey) -> None:
    store.operator_event(
        {
            "type": "key",
            "op": "add",
            "subject": actor.id,
            "key_id": key.public_key.key_id,
            "public_key": key.public_key.to_base64(),
        }
    )


def _rotate(store: LedgerStore, actor: DemoActor, old: PrivateKey, new: PrivateKey) -> None:
    """The terminal rotates its own key: an event signed by the key it replaces."""
    fields: dict[str, Any] = {
        "v": 1,
        "type": "key",
        "actor": actor.id,
        "seq": 0,
        "prev": None,
        "time": event_time_now(),
        "op": "rotate",
        "subject": actor.id,
        "key_id": new.public_key.key_id,
        "public_key": new.public_key.to_base64(),
        "replaces": old.public_key.key_id,
    }
    payload = encode_event(fields)
    store.append([sign_envelope(payload, old)])
    log.info(
        "demo: %s rotated its terminal key (prev digest %s)", actor.id, payload_digest(payload)[:12]
    )


def seed_demo(store: LedgerStore, home: Path) -> int:
    """Register the demo actors and their terminal keys; the number of entries appended."""
    before = store.tree_size()
    for actor in DEMO_ACTORS:
        try:
            store.actor(actor.id)
            continue
        except NotFoundError:
            pass
        _register(store, actor)
        first = _terminal_key(home, actor.slug, 0)
        _add_key(store, actor, first)
        if actor.slug == "setificio-lariano":
            _rotate(store, actor, first, _terminal_key(home, actor.slug, 1))
    return store.tree_size() - before
