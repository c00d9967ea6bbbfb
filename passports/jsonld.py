"""A passport as JSON-LD: the UNTP Digital Product Passport shape plus the ESPR Annex III fields.

The UN Transparency Protocol (UNTP) DPP names the sections a machine reader looks for —
``product``, ``granularityLevel``, ``materialsProvenance``, ``conformityClaim``,
``circularityScorecard``, ``emissionsScorecard``, ``traceabilityInformation`` — and the EU
Ecodesign Regulation (ESPR, Regulation (EU) 2024/1781, Annex III) lists what a passport must
carry: the unique product identifier, the GTIN, the operator's and the facilities' identifiers,
compliance documents and instructions. Terms of our own (the ESPR block, the log entries) use
the ``spola:`` prefix bound in the context rather than an ``@vocab``, so a JSON-LD processor
never silently mints IRIs for them.

The document is not a Verifiable Credential: what makes it trustworthy is the signed log entries
it cites (``spola:entries``) and the bundle an auditor can check offline (``spola:bundle``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

UNTP_DPP_CONTEXT: Final = "https://test.uncefact.org/vocabulary/untp/dpp/0.5.0/"
SPOLA_NS: Final = "urn:spola:ns:dpp:"
CONTEXT: Final = [UNTP_DPP_CONTEXT, {"spola": SPOLA_NS}]
# What a URN's specific string keeps as it is (RFC 8141 section 2: pchar and "/"); the rest of
# a certificate number a holder typed (a space, a quote, '<', '#', '%') is percent-encoded.
_URN_SAFE: Final = "-._~!$&'()*+,;=:@/"


def to_jsonld(doc: Mapping[str, Any], *, uri: str, api_url: str) -> dict[str, Any]:
    """The UNTP-shaped JSON-LD of a (public) passport document.

    ``uri`` is the Digital Link URI of the subject; ``api_url`` the passport's JSON resource.
    """
    product = doc["product"]
    issuer = doc["issued_by"]
    return {
        "@context": CONTEXT,
        "type": ["DigitalProductPassport"],
        "id": f"{uri}#passport-v{doc['version']}",
        "issuer": {"type": ["Party"], "id": issuer["actor"], "name": issuer["name"]},
        "validFrom": doc["issued_at"],
        "credentialSubject": {
            "type": ["ProductPassport"],
            "product": _product(product, uri, issuer),
            "granularityLevel": product["granularity"],
            "materialsProvenance": [_material(m) for m in doc["materials"]],
            "conformityClaim": [_claim(c) for c in doc["certificates"]],
            "circularityScorecard": _circularity(doc["circularity"], doc["instructions"]),
            "emissionsScorecard": _emissions(doc["short_chain"]),
            "traceabilityInformation": _traceability(doc["journey"], api_url),
        },
        "spola:espr": _espr(doc, uri),
        "spola:version": doc["version"],
        "spola:entries": doc["entries"],
        "spola:bundle": f"{api_url}/bundle",
    }


def _product(product: Mapping[str, Any], uri: str, issuer: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": ["Product"],
        "id": uri,
        "name": product["name"],
        "registeredId": product["gtin"],
        "idScheme": {"type": ["IdentifierScheme"], "id": "https://id.gs1.org/01/", "name": "GTIN"},
        "productCategory": [{"type": ["Classification"], "code": product["category"]}],
        "producedByParty": {"type": ["Party"], "id": issuer["actor"], "name": issuer["name"]},
        "countryOfProduction": product["country"],
    }
    if "serial" in product:
        out["serialNumber"] = product["serial"]
    if "lot" in product:
        out["batchNumber"] = product["lot"]
    if "description" in product:
        out["description"] = product["description"]
    return out


def _material(row: Mapping[str, Any]) -> dict[str, Any]:
    countries = sorted({o["country"] for o in row["origins"] if o.get("country")})
    return {
        "type": ["Material"],
        "name": row["name"],
        "originCountry": countries[0] if len(countries) == 1 else countries,
        "materialType": {"type": ["Classification"], "code": row["material"]},
        "massFraction": float(row["fraction"]),
        "recycledMassFraction": float(row["recycled"]),
        "spola:traced": row["traced"],
    }


def _claim(cert: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": ["Claim"],
        "id": f"urn:spola:certificate:{cert['scheme']}:{quote(cert['id'], safe=_URN_SAFE)}",
        "referenceStandard": {
            "type": ["Standard"],
            "name": cert["scheme_name"],
            "id": cert.get("scheme_url"),
        },
        "conformance": bool(cert["valid_at_use"]),
        "conformityTopic": "environment.certification",
        "spola:holder": cert["holder"],
        "spola:issuer": cert["issuer"],
        "spola:validFrom": cert["valid_from"],
        "spola:validUntil": cert["valid_until"],
    }


def _circularity(c: Mapping[str, Any], instructions: Mapping[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": ["CircularityScorecard"],
        "recycledContent": float(c["recycled_content"]),
        "spola:renewableContent": float(c["renewable_content"]),
        "spola:repairs": c["repairs"],
        "spola:resales": c["resales"],
    }
    if "repair" in instructions:
        card["repairInformation"] = {"type": ["Link"], "linkName": instructions["repair"]}
    if "take_back" in instructions:
        card["recyclingInformation"] = {"type": ["Link"], "linkName": instructions["take_back"]}
    mci = c.get("mci")
    if isinstance(mci, Mapping) and "mci" in mci:
        card["materialCircularityIndicator"] = float(mci["mci"])
    return card


def _emissions(chain: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": ["EmissionsScorecard"],
        "carbonFootprint": float(chain["co2e_kg"]),
        "declaredUnit": "KGM",
        "operationalScope": "spola:transport-legs",
        "reportingStandard": {
            "type": ["Standard"],
            "name": f"spola transport factors {chain['factors_version']}",
        },
    }


def _traceability(journey: list[Mapping[str, Any]], api_url: str) -> list[dict[str, Any]]:
    return [
        {
            "type": ["TraceabilityPerformance"],
            "valueChainProcess": step["what"],
            "spola:date": step["date"],
            "spola:kind": step["kind"],
            "traceabilityEvent": [
                {
                    "type": ["Link"],
                    "linkURL": _entry_url(api_url, step["index"]),
                    "linkType": "spola:log-entry",
                }
            ],
        }
        for step in journey
    ]


def _entry_url(api_url: str, index: int) -> str:
    # The log's own address of one entry, with its exact bytes (as POST /v1/entries's Location).
    return f"{api_url.partition('/v1/')[0]}/v1/log/entries?start={index}&end={index + 1}"


def _espr(doc: Mapping[str, Any], uri: str) -> dict[str, Any]:
    places = [doc["issued_by"]] + [s.get("at") or s.get("from") for s in doc["journey"]]
    return {
        "uniqueProductIdentifier": uri,
        "gtin": doc["product"]["gtin"],
        "operatorIdentifier": doc["issued_by"]["party"],
        "facilities": sorted({p["location"] for p in places if p and p.get("location")}),
        "complianceDocuments": doc["documents"],
        "instructions": doc["instructions"],
    }
