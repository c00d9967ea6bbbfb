"""The log's read side over HTTP: key, checkpoint, entries, proofs, receipts, registry, docs.

Each test runs on SQLite and PostgreSQL. Proofs and checkpoints are checked with the ledger's
own verifiers; ``test_api_independent_client.py`` checks them again without the ledger package.
"""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

import api.routes
from api.operator import DEFAULT_ORIGIN, load_operator
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.envelope import Envelope
from ledger.errors import CheckpointError
from ledger.events import OPERATOR_ACTOR
from ledger.hashing import leaf_hash
from ledger.keys import PrivateKey
from ledger.note import note_key_id
from ledger.proofs import verify_consistency, verify_inclusion
from tests.integration.api_support import Api, assert_problem, running_api
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

MAX_PAGE = 5


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(database_url, tmp_path / "home", max_page=MAX_PAGE) as running:
        yield running


def _checkpoint(app: Api) -> Checkpoint:
    response = app.client.get("/v1/log/checkpoint")
    assert response.status_code == 200, response.text
    return verify_checkpoint(response.content, app.vkey())


def _hashes(encoded: list[str]) -> list[bytes]:
    return [base64.b64decode(h, validate=True) for h in encoded]


def _grow(app: Api, actors: int) -> list[dict[str, Any]]:
    """``actors`` registrations, one batch each: one checkpoint per tree size 2, 3, …"""
    return [app.accept([app.operator.register(f"urn:spola:actor:w{i}")])[0] for i in range(actors)]


# -- key and checkpoint ----------------------------------------------------------------------


def test_log_key_is_a_c2sp_vkey_of_the_operator_key(app: Api) -> None:
    vkey = app.vkey()
    name, hex_id, encoded = vkey.split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    public_key = load_operator(app.settings.home).key.public_key.raw

    assert name == DEFAULT_ORIGIN
    assert re.fullmatch(r"[0-9a-f]{8}", hex_id)
    assert raw == b"\x01" + public_key
    assert int(hex_id, 16) == note_key_id(name, public_key)
    assert app.client.get("/v1/log/key").text == vkey + "\n"


def test_checkpoint_is_text_plain_signed_by_the_log_key(app: Api) -> None:
    _grow(app, 2)
    response = app.client.get("/v1/log/checkpoint")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    checkpoint = verify_checkpoint(response.content, app.vkey())
    assert checkpoint.origin == DEFAULT_ORIGIN
    assert checkpoint.size == app.tree_size() == 3


def test_checkpoint_does_not_verify_with_another_key(app: Api) -> None:
    note = app.client.get("/v1/log/checkpoint").content
    other = PrivateKey.generate().public_key.raw
    impostor = f"{DEFAULT_ORIGIN}+{note_key_id(DEFAULT_ORIGIN, other):08x}+" + (
        base64.b64encode(b"\x01" + other).decode()
    )
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_checkpoint(note, impostor)


def test_genesis_is_the_operator_registration_signed_by_the_log_key(app: Api) -> None:
    genesis = Envelope.from_bytes(app.entry(0))
    payload = json.loads(genesis.payload)
    assert genesis.signatures[0].keyid == app.operator.key_id
    assert (payload["actor"], payload["type"], payload["seq"]) == (OPERATOR_ACTOR, "actor", 0)
    assert payload["prev"] is None


# -- entries ---------------------------------------------------------------------------------


def test_entries_page_through_the_whole_log_in_order(app: Api) -> None:
    _grow(app, 11)  # 12 entries
    seen: list[int] = []
    for start in range(0, 15, MAX_PAGE):
        response = app.client.get("/v1/log/entries", params={"start": start})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["tree_size"] == 12
        assert len(page["entries"]) == min(MAX_PAGE, max(0, 12 - start))
        seen.extend(row["index"] for row in page["entries"])
    assert seen == list(range(12))


def test_entries_carry_exact_bytes_and_their_hashes(app: Api) -> None:
    _grow(app, 2)
    rows = app.client.get("/v1/log/entries", params={"start": 0, "end": 3}).json()["entries"]
    for row in rows:
        entry = base64.b64decode(row["entry"])
        assert Envelope.from_bytes(entry).to_bytes() == entry  # RFC 8785 form of the envelope
        assert bytes.fromhex(row["leaf_hash"]) == leaf_hash(entry)
        assert re.fullmatch(r"[0-9a-f]{64}", row["chain_hash"])
        assert row["applied"] is True
        assert row["violation"] is None
        assert row["logged_at"].endswith("Z")


def test_entries_beyond_the_log_are_an_empty_page(app: Api) -> None:
    response = app.client.get("/v1/log/entries", params={"start": 40, "end": 42})
    assert response.json() == {"entries": [], "tree_size": 1}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"start": 3, "end": 3}, "end (3) must be greater than start (3)"),
        ({"start": 4, "end": 2}, "end (2) must be greater than start (4)"),
        ({"start": 0, "end": MAX_PAGE + 1}, f"at most {MAX_PAGE} entries per page (asked 6)"),
        ({"start": -1}, "query.start"),
        ({"start": 0, "end": -2}, "query.end"),
        ({"start": "one"}, "query.start"),
        ({"start": 2**53}, "query.start"),
    ],
)
def test_entries_out_of_bounds_are_refused_400(
    app: Api, params: dict[str, Any], detail: str
) -> None:
    response = app.client.get("/v1/log/entries", params=params)
    assert_problem(response, 400, "bad-request", detail)


# -- inclusion proofs ------------------------------------------------------------------------


def test_inclusion_proof_by_index_verifies_against_the_checkpoint(app: Api) -> None:
    _grow(app, 6)
    checkpoint = _checkpoint(app)
    for index in range(checkpoint.size):
        response = app.client.get("/v1/log/proof/inclusion", params={"index": index})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["index"], body["size"]) == (index, checkpoint.size)
        leaf = leaf_hash(app.entry(index))
        verify_inclusion(leaf, index, checkpoint.size, _hashes(body["proof"]), checkpoint.root_hash)


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_inclusion_proof_by_leaf_hash_matches_the_proof_by_index(app: Api, encoding: str) -> None:
    _grow(app, 4)
    leaf = leaf_hash(app.entry(3))
    text = leaf.hex() if encoding == "hex" else base64.b64encode(leaf).decode()

    by_leaf = app.client.get("/v1/log/proof/inclusion", params={"leaf_hash": text})
    by_index = app.client.get("/v1/log/proof/inclusion", params={"index": 3})

    assert by_leaf.status_code == 200, by_leaf.text
    assert by_leaf.json() == by_index.json()
    checkpoint = _checkpoint(app)
    proof = _hashes(by_leaf.json()["proof"])
    verify_inclusion(leaf, 3, checkpoint.size, proof, checkpoint.root_hash)


def test_inclusion_proof_for_an_older_tree_size_verifies_against_its_checkpoint(
    app: Api,
) -> None:
    receipts = _grow(app, 5)
    old = verify_checkpoint(receipts[1]["checkpoint"].encode(), app.vkey())  # size 3
    response = app.client.get("/v1/log/proof/inclusion", params={"index": 1, "size": old.size})
    assert response.json()["size"] == 3
    proof = _hashes(response.json()["proof"])
    verify_inclusion(leaf_hash(app.entry(1)), 1, old.size, proof, old.root_hash)


@pytest.mark.parametrize(
    ("params", "status", "kind", "detail"),
    [
        ({}, 400, "bad-request", "exactly one of index or leaf_hash"),
        ({"index": 0, "leaf_hash": "00" * 32}, 400, "bad-request", "exactly one of"),
        ({"leaf_hash": "ab" * 31}, 400, "bad-request", "leaf_hash must be 32 bytes"),
        ({"leaf_hash": "zz" * 32}, 400, "bad-request", "leaf_hash must be 32 bytes"),
        ({"leaf_hash": "11" * 32}, 404, "not-found", "no entry has leaf hash " + "11" * 32),
        ({"index": 9}, 400, "proof", "leaf index 9 is beyond a tree of size 3"),
        ({"index": 0, "size": 4}, 400, "proof", "tree size 4 is outside the log"),
        ({"index": -1}, 400, "bad-request", "query.index"),
    ],
)
def test_inclusion_proof_requests_that_cannot_be_answered_are_problems(
    app: Api, params: dict[str, Any], status: int, kind: str, detail: str
) -> None:
    _grow(app, 2)
    response = app.client.get("/v1/log/proof/inclusion", params=params)
    assert_problem(response, status, kind, detail)


# -- consistency proofs ----------------------------------------------------------------------


def test_consistency_proof_links_every_older_checkpoint_to_the_latest(app: Api) -> None:
    receipts = _grow(app, 6)
    vkey = app.vkey()
    latest = _checkpoint(app)
    for receipt in receipts[:-1]:
        old = verify_checkpoint(receipt["checkpoint"].encode(), vkey)
        response = app.client.get("/v1/log/proof/consistency", params={"first": old.size})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["first"], body["second"]) == (old.size, latest.size)
        verify_consistency(
            old.size, latest.size, _hashes(body["proof"]), old.root_hash, latest.root_hash
        )


def test_consistency_proof_between_two_explicit_sizes(app: Api) -> None:
    receipts = _grow(app, 6)
    vkey = app.vkey()
    first = verify_checkpoint(receipts[0]["checkpoint"].encode(), vkey)
    second = verify_checkpoint(receipts[3]["checkpoint"].encode(), vkey)
    response = app.client.get(
        "/v1/log/proof/consistency", params={"first": first.size, "second": second.size}
    )
    body = response.json()
    assert (body["first"], body["second"]) == (2, 5)
    verify_consistency(2, 5, _hashes(body["proof"]), first.root_hash, second.root_hash)


@pytest.mark.parametrize(
    ("params", "kind", "detail"),
    [
        ({"first": 3, "second": 2}, "proof", "first (3) must not exceed second (2)"),
        ({"first": 4}, "proof", "first (4) must not exceed second (3)"),
        ({"first": 1, "second": 9}, "proof", "tree size 9 is outside the log"),
        ({"first": -1}, "bad-request", "query.first"),
        ({}, "bad-request", "query.first"),
    ],
)
def test_consistency_proof_requests_out_of_bounds_are_refused_400(
    app: Api, params: dict[str, Any], kind: str, detail: str
) -> None:
    _grow(app, 2)
    response = app.client.get("/v1/log/proof/consistency", params=params)
    assert_problem(response, 400, kind, detail)


def test_consistency_proof_from_the_empty_tree_is_refused_400(app: Api) -> None:
    _grow(app, 2)
    response = app.client.get("/v1/log/proof/consistency", params={"first": 0})
    assert response.status_code == 400, response.text  # bad-request or proof: either is fine
    assert response.headers["content-type"] == "application/problem+json"


# -- receipts --------------------------------------------------------------------------------


def test_receipt_is_rebuilt_exactly_as_it_was_given(app: Api) -> None:
    given = _grow(app, 4)
    for receipt in given:
        response = app.client.get(f"/v1/log/receipts/{receipt['index']}")
        assert response.status_code == 200, response.text
        assert response.json() == receipt


def test_receipt_of_a_batch_entry_names_the_batch_checkpoint(app: Api) -> None:
    receipts = app.accept([app.operator.register(f"urn:spola:actor:b{i}") for i in range(3)])
    _grow(app, 2)
    rebuilt = [app.client.get(f"/v1/log/receipts/{r['index']}").json() for r in receipts]
    assert rebuilt == receipts
    assert {r["checkpoint"].split("\n")[1] for r in rebuilt} == {"4"}


@pytest.mark.parametrize(
    ("index", "status", "kind", "detail"),
    [
        ("7", 404, "not-found", "no entry at index 7"),
        ("-1", 400, "bad-request", "path.index"),
        ("x", 400, "bad-request", "path.index"),
        (str(2**64), 400, "bad-request", "path.index"),  # never reaches the database
    ],
)
def test_receipt_of_an_entry_that_does_not_exist_is_a_problem(
    app: Api, index: str, status: int, kind: str, detail: str
) -> None:
    response = app.client.get(f"/v1/log/receipts/{index}")
    assert_problem(response, status, kind, detail)


# -- keys and actors -------------------------------------------------------------------------


def test_key_record_names_its_actor_and_validity(app: Api) -> None:
    terminal = Terminal(actor="urn:spola:actor:lanificio")
    receipts = app.accept(
        [app.operator.register(terminal.actor), app.operator.add_key(terminal.actor, terminal.key)]
    )
    response = app.client.get(f"/v1/keys/{terminal.key_id}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "key_id": terminal.key_id,
        "public_key": terminal.key.public_key.to_base64(),
        "actor": terminal.actor,
        "valid_from_index": receipts[1]["index"] + 1,
        "revoked_at_index": None,
    }


def test_log_key_is_a_key_of_the_operator_valid_from_genesis(app: Api) -> None:
    body = app.client.get(f"/v1/keys/{app.operator.key_id}").json()
    assert base64.b64decode(body["public_key"]) == app.operator.key.public_key.raw
    assert (body["actor"], body["valid_from_index"], body["revoked_at_index"]) == (
        OPERATOR_ACTOR,
        0,
        None,
    )


def test_rotation_revokes_the_old_key_after_the_rotation_entry(app: Api) -> None:
    terminal = app.enrol("setificio")
    old_key_id = terminal.key_id
    new = PrivateKey.generate()
    (rotation,) = app.accept([terminal.rotate(new)])

    old = app.client.get(f"/v1/keys/{old_key_id}").json()
    fresh = app.client.get(f"/v1/keys/{new.public_key.key_id}").json()

    assert old["revoked_at_index"] == rotation["index"] + 1
    assert fresh["valid_from_index"] == rotation["index"] + 1
    assert fresh["revoked_at_index"] is None
    assert fresh["actor"] == terminal.actor
    assert base64.b64decode(fresh["public_key"]) == new.public_key.raw
    assert rotation["applied"] is True


@pytest.mark.parametrize(
    ("key_id", "status", "kind", "detail"),
    [
        ("ab" * 32, 404, "not-found", "unknown key " + "ab" * 32),
        ("AB" * 32, 400, "bad-request", "path.key_id"),
        ("abc", 400, "bad-request", "path.key_id"),
    ],
)
def test_unknown_or_malformed_key_id_is_a_problem(
    app: Api, key_id: str, status: int, kind: str, detail: str
) -> None:
    assert_problem(app.client.get(f"/v1/keys/{key_id}"), status, kind, detail)


def test_actors_are_listed_in_registration_order_and_paged(app: Api) -> None:
    _grow(app, 6)
    everyone = app.client.get("/v1/actors").json()["actors"]
    ids = [a["id"] for a in everyone]
    assert len(ids) == MAX_PAGE  # the limit is capped at max_page
    assert ids[0] == OPERATOR_ACTOR
    assert ids[1:] == [f"urn:spola:actor:w{i}" for i in range(4)]
    assert [a["registered_at_index"] for a in everyone] == list(range(MAX_PAGE))
    page = app.client.get("/v1/actors", params={"offset": 5, "limit": 2}).json()["actors"]
    assert [a["id"] for a in page] == ["urn:spola:actor:w4", "urn:spola:actor:w5"]
    assert app.client.get("/v1/actors", params={"offset": 7}).json() == {"actors": []}


@pytest.mark.parametrize(
    "params",
    [
        {"offset": -1},
        {"limit": 0},
        {"offset": 2**63},  # never reaches the database
        {"limit": 2**64},
    ],
)
def test_actor_list_bounds_are_refused_400(app: Api, params: dict[str, int]) -> None:
    response = app.client.get("/v1/actors", params=params)
    assert_problem(response, 400, "bad-request", "query.")


def test_actor_shows_its_signed_profile_and_key_history(app: Api) -> None:
    terminal = app.enrol("conceria", region="Lombardia")
    first_key = terminal.key_id
    new = PrivateKey.generate()
    app.accept([terminal.rotate(new)])

    response = app.client.get(f"/v1/actors/{terminal.actor}")

    assert response.status_code == 200, response.text
    actor = response.json()
    assert (actor["id"], actor["name"], actor["roles"]) == (
        terminal.actor,
        "Test workshop",
        ["supplier"],
    )
    registration = Envelope.from_bytes(app.entry(actor["registered_at_index"]))
    assert actor["profile"] == json.loads(registration.payload)  # the payload as signed
    assert actor["profile"]["region"] == "Lombardia"
    history = [(k["key_id"], k["revoked_at_index"] is None) for k in actor["keys"]]
    assert history == [(first_key, False), (new.public_key.key_id, True)]


def test_unknown_actor_is_a_404_problem(app: Api) -> None:
    response = app.client.get("/v1/actors/urn:spola:actor:nobody")
    assert_problem(response, 404, "not-found", "unknown actor urn:spola:actor:nobody")


# -- operations and documentation ------------------------------------------------------------


def test_healthz_reports_the_log(app: Api) -> None:
    _grow(app, 2)
    assert app.client.get("/healthz").json() == {
        "status": "ok",
        "tree_size": 3,
        "origin": DEFAULT_ORIGIN,
    }


def test_openapi_lists_every_route(app: Api) -> None:
    response = app.client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    modules = [
        importlib.import_module(f"api.routes.{info.name}")
        for info in pkgutil.iter_modules(api.routes.__path__)
    ]
    served = {
        (route.path.replace(":path}", "}"), method.lower())
        for module in modules
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema  # HTML pages are not the API
        for method in route.methods
    }
    documented = {(path, method) for path, item in paths.items() for method in item}
    assert documented == served
    assert set(paths) >= {
        "/healthz",
        "/v1/entries",
        "/v1/log/checkpoint",
        "/v1/log/key",
        "/v1/log/entries",
        "/v1/log/proof/inclusion",
        "/v1/log/proof/consistency",
        "/v1/log/receipts/{index}",
        "/v1/keys/{key_id}",
        "/v1/actors",
        "/v1/actors/{actor_id}",
        "/v1/actors/{actor_id}/holdings",
        "/v1/entries/{index}/verdict",
        "/v1/lots/{lot_id}",
        "/v1/lots/{lot_id}/trace",
        "/v1/items/{item_id}",
        "/v1/items/{item_id}/trace",
    }
    body = paths["/v1/entries"]["post"]["requestBody"]["content"]["application/json"]
    assert len(body["schema"]["oneOf"]) == 2  # one envelope, or a batch


def test_docs_page_is_served(app: Api) -> None:
    response = app.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
