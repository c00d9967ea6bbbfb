"""Maturity scoring, reviewed: what an answer citing a certificate is worth, and on what basis.

The company page tags a question green when the ledger or a valid certificate backs its answer
(``basis`` metric or certificate); a "no" backed by nothing must not read "no · with a
certificate" in green, and a certificate cited for a "no" adds nothing.
"""

from __future__ import annotations

from datetime import date

from ledger.assessment import Answer
from scoring.maturity import NO_MCI_NOTE, CertificateSpan, assess, load_model
from scoring.maturity_page import render_company
from tests.unit.test_maturity_page import _document

ON = date(2026, 11, 15)
GOTS = CertificateSpan("GOTS", "GOTS-1", date(2026, 1, 1), date(2026, 12, 31))


def _answer(question: str, value: str) -> Answer:
    return Answer.model_validate(
        {"question": question, "answer": value, "certificate": {"scheme": "GOTS", "id": "GOTS-1"}}
    )


def test_a_no_citing_a_held_certificate_is_not_certificate_backed() -> None:
    result = assess(
        load_model(), [_answer("so-3", "no"), _answer("so-1", "partial")],
        on=ON, metrics={}, certificates=[GOTS],
    )  # fmt: skip
    found = {r.question.id: r for d in result.dimensions for r in d.questions}
    assert found["so-3"].basis == "self-declared" and found["so-3"].credit == 0
    # a partial answer backed by a valid certificate keeps its full-rate half credit
    assert (found["so-1"].basis, str(found["so-1"].credit)) == ("certificate", "0.5")


def test_the_page_says_in_its_language_why_the_mean_product_mci_is_missing() -> None:
    # Passports issued, none scorable: the page said "no passport issued" all the same.
    doc = _document()
    evidence = doc["evidence"]
    assert isinstance(evidence, dict)
    evidence["mean_product_mci"] = {**evidence["mean_product_mci"], "note": NO_MCI_NOTE}
    italian, english = render_company(doc, lang="it"), render_company(doc, lang="en")
    assert "si può ancora calcolare l&#39;MCI" in italian and NO_MCI_NOTE not in italian
    assert "No MCI can be computed yet" in english and "No passport issued" not in english
