"""API tokens on both engines: created once, stored hashed, resolved in constant time, revoked.

The secret of a token exists in two places only: the stdout of ``spola token create`` and the
client that holds it. These tests look for it everywhere else — every column of its row, the
token listing, the logs, the CLI's other outputs — and try the attacks a holder of part of a
token could make: the right id with a wrong secret, a revoked token, a brand token minted for an
actor that is not a brand. The 401 problem is checked over a real socket, from a minimal app that
uses ``ViewerDep`` with the real store.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api import auth, problems
from api.operator import load_operator
from ledger.errors import NotFoundError
from ledger.events import OPERATOR_ACTOR
from ledger.store import tokens
from ledger.store.ledger import LedgerStore
from ledger.store.tokens import PUBLIC, TokenError, TokenRecord, Viewer
from spola.cli import main
from tests.integration.api_support import assert_problem, serving
from tests.terminal import Terminal

pytestmark = pytest.mark.integration

BRAND = "urn:spola:actor:maison-navigli"
OTHER_BRAND = "urn:spola:actor:atelier-brera"
SUPPLIER = "urn:spola:actor:conceria-ticino"


@pytest.fixture
def registered(store: LedgerStore, operator: Terminal) -> LedgerStore:
    """A store with two brands and a supplier registered."""
    store.append(
        [
            operator.register(BRAND, "Maison Navigli", roles=["brand", "retailer"]),
            operator.register(OTHER_BRAND, "Atelier Brera", roles=["brand"]),
            operator.register(SUPPLIER, "Conceria del Ticino", roles=["supplier"]),
        ]
    )
    return store


def _secret(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.split("_", 2)[2] + "=")


def _spellings(token: str) -> list[str]:
    """Every way the secret of ``token`` could leak into text."""
    secret = _secret(token)
    return [
        token,
        token.split("_", 2)[2],
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
    ]


def _other_secret(token: str) -> str:
    """``token`` with its last secret character changed to another canonical one."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "E")


# -- creating and resolving -----------------------------------------------------------------


def test_a_brand_token_acts_for_its_brand_only(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="brand", actor=BRAND, label="shop")

    viewer = registered.resolve_token(token)

    assert viewer == Viewer(tier="brand", actor=BRAND, token_id=token_id)
    assert token.startswith(f"spola_{token_id}_")
    assert viewer.may_see_restricted(BRAND)
    assert not viewer.may_see_restricted(OTHER_BRAND)
    assert not viewer.may_see_restricted(OPERATOR_ACTOR)


def test_an_operator_token_sees_every_issuer(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="operator", actor=None)

    viewer = registered.resolve_token(token)

    assert viewer == Viewer(tier="operator", actor=OPERATOR_ACTOR, token_id=token_id)
    assert all(viewer.may_see_restricted(issuer) for issuer in (BRAND, OTHER_BRAND, SUPPLIER))


def test_the_public_viewer_sees_no_restricted_field() -> None:
    assert PUBLIC.tier == "public" and PUBLIC.actor is None
    assert not any(PUBLIC.may_see_restricted(i) for i in (BRAND, SUPPLIER, OPERATOR_ACTOR))


def test_two_tokens_never_share_a_secret(registered: LedgerStore) -> None:
    tokens = [registered.create_token(tier="brand", actor=BRAND)[1] for _ in range(5)]
    assert len({_secret(t) for t in tokens}) == 5
    assert all(len(_secret(t)) == 32 for t in tokens)


# -- stored hashed --------------------------------------------------------------------------


def test_the_stored_row_never_holds_the_secret(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="brand", actor=BRAND, label="shop")

    with registered.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_tokens")).mappings().all()

    assert len(rows) == 1
    stored = {column: str(value) for column, value in rows[0].items()}
    for column, value in stored.items():
        for spelling in _spellings(token):
            assert spelling not in value, (column, value)
    # What is stored instead: the SHA-256 of the secret's 32 bytes.
    assert stored["token_hash"] == hashlib.sha256(_secret(token)).hexdigest()
    assert stored["id"] == token_id


def test_the_listing_shows_neither_secret_nor_hash(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="brand", actor=BRAND, label="shop")
    registered.create_token(tier="operator", actor=None)

    listed = registered.tokens()

    assert {f.name for f in dataclasses.fields(TokenRecord)} == {
        "id", "tier", "actor", "label", "created_at", "revoked_at", "valid_until",
    }  # fmt: skip
    assert (listed[0].id, listed[0].tier, listed[0].actor, listed[0].label) == (
        token_id,
        "brand",
        BRAND,
        "shop",
    )
    shown = repr(listed)
    with registered.connect() as conn:
        hashes = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert not any(h in shown for h in hashes)
    assert not any(s in shown for s in _spellings(token))


# -- attacks ----------------------------------------------------------------------------------


def test_a_wrong_secret_with_a_right_id_is_refused(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="operator", actor=None)
    _, other = registered.create_token(tier="brand", actor=BRAND)

    forged = [
        _other_secret(token),  # one character of the secret changed
        f"spola_{token_id}_{other.split('_', 2)[2]}",  # another token's valid secret
        f"spola_{token_id}_{base64.urlsafe_b64encode(bytes(32)).rstrip(b'=').decode()}",
    ]
    for presented in forged:
        assert registered.resolve_token(presented) is None, presented
    assert registered.resolve_token(token) is not None


def test_malformed_tokens_do_not_resolve(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="operator", actor=None)
    secret = token.split("_", 2)[2]
    # The same 32 bytes with a non-zero spare bit: a second spelling, refused.
    index = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(secret[-1])
    twin = (
        secret[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[index ^ 1]
    )
    cases = [
        "",
        "spola",
        f"Bearer {token}",
        token + "\n",
        " " + token,
        token + "=",
        token.upper(),
        f"spola_{token_id.upper()}_{secret}" if token_id.upper() != token_id else "spola__",
        f"spola_{token_id}_{secret[:-1]}",
        f"spola_{token_id}_{twin}",
        f"other_{token_id}_{secret}",
        "spola_" + "0" * 8 + "_" + "A" * 43,
    ]
    for presented in cases:
        assert registered.resolve_token(presented) is None, presented


def test_a_revoked_token_no_longer_resolves(registered: LedgerStore) -> None:
    token_id, token = registered.create_token(tier="brand", actor=BRAND)
    _, kept = registered.create_token(tier="brand", actor=BRAND)

    first = registered.revoke_token(token_id)

    assert registered.resolve_token(token) is None
    assert registered.resolve_token(kept) is not None
    assert first.revoked_at is not None
    assert registered.revoke_token(token_id).revoked_at == first.revoked_at  # kept, not moved
    with pytest.raises(NotFoundError, match="unknown token 00000000"):
        registered.revoke_token("00000000")
    with pytest.raises(TokenError, match="not a token id"):
        registered.revoke_token(token)  # the whole token where its id belongs


def test_a_brand_that_loses_the_role_loses_its_tokens(
    registered: LedgerStore, operator: Terminal
) -> None:
    _, token = registered.create_token(tier="brand", actor=OTHER_BRAND)
    assert registered.resolve_token(token) is not None
    update = {"type": "actor", "op": "update", "id": OTHER_BRAND, "name": "Atelier Brera"}
    registered.append([operator.sign({**update, "roles": ["retailer"], "country": "IT"})])

    assert registered.resolve_token(token) is None


def test_a_brand_token_for_a_non_brand_actor_is_refused(registered: LedgerStore) -> None:
    cases = [
        ("brand", SUPPLIER, "does not have the brand role"),
        ("brand", OPERATOR_ACTOR, "does not have the brand role"),
        ("brand", "urn:spola:actor:nobody", "no registered actor"),
        ("brand", None, "needs the brand's actor"),
        ("operator", BRAND, "an operator token acts for"),
        ("public", None, "unknown token tier"),
    ]
    for tier, actor, words in cases:
        with pytest.raises(TokenError, match=words):
            registered.create_token(tier=tier, actor=actor)
    assert registered.tokens() == []


# -- the CLI ------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_round_trip_prints_the_secret_once(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level("DEBUG")
    home = tmp_path / "ledger"
    monkeypatch.setenv("SPOLA_HOME", str(home))
    monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
    assert run(capsys, "init")[0] == 0
    profile = tmp_path / "brand.json"
    profile.write_text(
        json.dumps({"id": BRAND, "name": "Maison Navigli", "roles": ["brand"], "country": "IT"})
    )
    assert run(capsys, "actor", "register", "--from", str(profile))[0] == 0
    outputs: list[str] = []

    code, token, err = run(capsys, "token", "create", "--tier", "brand", "--actor", BRAND,
                           "--label", "Maison Navigli e-shop")  # fmt: skip
    assert code == 0, err
    token = token.strip()
    assert len(err.strip().splitlines()) == 1 and "cannot be shown again" in err
    token_id = token.split("_")[1]
    assert token_id in err
    outputs.append(err)

    code, out, err = run(capsys, "token", "list")
    assert (code, err) == (0, "")
    assert out.startswith(f"{token_id}  brand") and BRAND in out and "active" in out
    assert "Maison Navigli e-shop" in out
    outputs.append(out)

    operator = load_operator(home)
    store = LedgerStore.open(database_url, operator=operator.key, origin=operator.origin)
    try:
        assert store.resolve_token(token) == Viewer("brand", BRAND, token_id)
        code, out, err = run(capsys, "token", "revoke", token_id)
        assert (code, err) == (0, "")
        assert f"token {token_id}" in out and "revoked" in out
        outputs.append(out)
        assert store.resolve_token(token) is None
    finally:
        store.close()

    code, out, err = run(capsys, "token", "list")
    assert code == 0 and "revoked" in out
    outputs.append(out)
    outputs.append(caplog.text)
    for output in outputs:
        for spelling in _spellings(token):
            assert spelling not in output


FORGED = "ops\n1234abcd  operator  urn:spola:actor:operator  created 2026  active"


def test_cli_token_errors_are_one_line(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPOLA_HOME", str(tmp_path / "ledger"))
    monkeypatch.setenv("SPOLA_DATABASE_URL", database_url)
    assert run(capsys, "init")[0] == 0
    cases = [
        (["token", "create", "--tier", "brand", "--actor", OPERATOR_ACTOR], "brand role"),
        (["token", "create", "--tier", "brand", "--actor", SUPPLIER], "no registered actor"),
        (["token", "create", "--tier", "brand"], "needs the brand's actor id"),
        (["token", "revoke", "0badc0de"], "unknown token 0badc0de"),
        (["token", "revoke", "nope"], "not a token id"),
        # A label is printed by `spola token list`, one token a line: a newline in it forged
        # the line of a token that does not exist. Over 200 characters it did not fit its
        # column (a driver error on PostgreSQL). An actor with a newline split the error.
        (["token", "create", "--tier", "operator", "--label", FORGED], "label"),
        (["token", "create", "--tier", "operator", "--label", "tab\there"], "label"),
        (["token", "create", "--tier", "operator", "--label", "x" * 201], "200"),
        (
            ["token", "create", "--tier", "brand", "--actor", f"{SUPPLIER}\nspola: ok"],
            "no registered",
        ),
    ]
    for args, words in cases:
        code, out, err = run(capsys, *args)
        assert (code, out) == (1, ""), (args, out, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("spola: "), err
        assert words in err, err
    assert run(capsys, "token", "list")[1] == ""  # nothing was stored
    code, _, _ = run(capsys, "token", "create", "--tier", "operator", "--label", "é" * 200)
    assert code == 0
    with pytest.raises(SystemExit) as usage:
        main(["token", "create", "--tier", "public"])
    assert usage.value.code == 2
    capsys.readouterr()


# -- over HTTP --------------------------------------------------------------------------------


def _whoami_app(store: LedgerStore) -> FastAPI:
    app = FastAPI()
    app.state.store = store
    problems.install(app)
    auth.install(app)

    @app.get("/whoami")
    def whoami(viewer: auth.ViewerDep) -> dict[str, str | None]:
        return {"tier": viewer.tier, "actor": viewer.actor}

    return app


@pytest.fixture
def server(registered: LedgerStore) -> Iterator[str]:
    """The minimal app served by uvicorn on a free local port, in a thread; its base URL."""
    with serving(_whoami_app(registered)) as host:
        yield f"http://{host}"


def test_http_tiers_and_the_401_problem(
    server: str, registered: LedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    brand_id, brand = registered.create_token(tier="brand", actor=BRAND)
    _, operator = registered.create_token(tier="operator", actor=None)
    _, revoked = registered.create_token(tier="brand", actor=BRAND)
    registered.revoke_token(revoked.split("_")[1])
    monkeypatch.setattr(tokens, "now", lambda: datetime(2030, 6, 1, tzinfo=UTC))
    with registered.connect() as conn, conn.begin():
        _, expired = tokens.create(conn, tier="brand", actor=BRAND, valid_until=date(2030, 6, 15))
    monkeypatch.setattr(tokens, "now", lambda: datetime(2030, 6, 16, tzinfo=UTC))  # the day after

    with httpx.Client(base_url=server, timeout=10) as client:

        def whoami(authorization: str | None) -> httpx.Response:
            headers = {} if authorization is None else {"Authorization": authorization}
            return client.get("/whoami", headers=headers)

        assert whoami(None).json() == {"tier": "public", "actor": None}
        assert whoami(f"Bearer {brand}").json() == {"tier": "brand", "actor": BRAND}
        assert whoami(f"bearer {operator}").json() == {"tier": "operator", "actor": OPERATOR_ACTOR}

        refused = {
            "malformed": "Bearer not-a-token",
            "wrong secret": f"Bearer {_other_secret(brand)}",
            "unknown id": f"Bearer spola_00000000_{brand.split('_', 2)[2]}",
            "revoked": f"Bearer {revoked}",
            "expired": f"Bearer {expired}",
            "another scheme": f"Basic {base64.b64encode(brand.encode()).decode()}",
            "empty": "",
        }
        details = {}
        for case, authorization in refused.items():
            response = whoami(authorization)
            body = assert_problem(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer "), case
            assert brand not in response.text and brand_id not in body["detail"], case
            details[case] = body["detail"]
        # Which ids exist, and which are revoked, is not for a token guesser to learn.
        assert details["wrong secret"] == details["unknown id"] == details["revoked"]
        assert details["expired"] == details["revoked"]
