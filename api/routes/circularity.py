"""``POST /v1/circularity/mci``: the Material Circularity Indicator as a designer's what-if.

The body names a method, the utility ratios and the product's materials with their flows; the
answer is the MCI with every component (``scoring.mci``). Nothing is read from or written to
the ledger. Numbers may be JSON numbers or decimal strings; both are read exactly as decimals.
A body that is not JSON is a 400; impossible input (a fraction over 1, a mass of 0, an unknown
method or field) is a 422 problem whose detail starts with the field, e.g. ``materials[1].fr``.
Answers are rounded to 6 decimal places for presentation only.
"""

from __future__ import annotations

import json
import re
from decimal import Context, Decimal
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.problems import BadRequest
from ledger.errors import LimitError
from scoring.errors import ScoringInputError
from scoring.mci import (
    FLOW_FIELDS,
    METHODS,
    MaterialComponents,
    MaterialFlows,
    MciResult,
    Method,
    as_method,
    mci,
)

router = APIRouter(prefix="/v1", tags=["circularity"])

BODY_FIELDS: Final = ("method", "lifetime_ratio", "intensity_ratio", "materials")
MAX_MATERIALS: Final = 200
MAX_DEPTH: Final = 4
_DECIMAL_TEXT: Final = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")
PLACES: Final = Decimal("0.000001")
# Decimal exponents outside this range are typos (or attacks on the arithmetic), not products.
MAX_EXPONENT: Final = 20
MAX_NUMBER_TEXT: Final = 64  # a JSON number longer than this is no mass, fraction or ratio
MAX_QUOTED: Final = 64  # a refusal quotes at most this much of a name or value it names

_NUMBER = {"oneOf": [{"type": "string", "example": "0.25"}, {"type": "number"}]}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["method", "materials"],
                    "properties": {
                        "method": {"type": "string", "enum": ["2015", "2019"]},
                        "lifetime_ratio": _NUMBER,
                        "intensity_ratio": _NUMBER,
                        "materials": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_MATERIALS,
                            "items": {
                                "type": "object",
                                "required": ["mass_kg"],
                                "properties": {name: _NUMBER for name in FLOW_FIELDS},
                            },
                        },
                    },
                }
            }
        },
    }
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _number(text: str) -> Decimal:
    # Checked on the text before Decimal() runs: a number of a million digits is refused at
    # once, and an exponent Decimal cannot hold (1e999999999999) is a bad body, not a 500.
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueError(f"number {text[:20]}… is longer than {MAX_NUMBER_TEXT} characters")
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ValueError(f"number {text} is out of range") from None


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as JSON, every number an exact Decimal; BadRequest when it is not JSON."""
    try:
        body = json.loads(
            raw,
            parse_float=_number,
            parse_int=_number,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_names,
        )
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _decimal(field: str, value: Any) -> Decimal:
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        value = Decimal(value)
    if not isinstance(value, Decimal):
        raise ScoringInputError(field, "must be a decimal string such as '0.25' or a number")
    if value and not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        raise ScoringInputError(field, f"is out of range (magnitude 1e±{MAX_EXPONENT} at most)")
    return value


def _quoted(text: str) -> str:
    """``text`` as a refusal quotes it: at most ``MAX_QUOTED`` characters, then its length."""
    if len(text) <= MAX_QUOTED:
        return text
    return f"{text[:MAX_QUOTED]}… ({len(text)} characters)"


def _unknown(where: str, obj: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(obj) - set(known))
    if unknown:
        names = ", ".join(known)
        raise ScoringInputError(f"{where}{_quoted(unknown[0])}", f"unknown field (known: {names})")


def _json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words (not Python's ``repr``)."""
    if isinstance(value, str):
        return json.dumps(_quoted(value), ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else "an object"


def _method(value: Any) -> Method:
    if isinstance(value, str) and value in METHODS:
        return as_method(value)
    wanted = " or ".join(f'"{m}"' for m in METHODS)
    raise ScoringInputError(
        "method", f"unknown method {_json_kind(value)}: give the string {wanted}"
    )


def _material(position: int, obj: Any) -> MaterialFlows:
    where = f"materials[{position}]"
    if not isinstance(obj, dict):
        raise ScoringInputError(where, "must be an object")
    _unknown(f"{where}.", obj, FLOW_FIELDS)
    if "mass_kg" not in obj:
        raise ScoringInputError(f"{where}.mass_kg", "is required")
    return MaterialFlows(**{name: _decimal(f"{where}.{name}", v) for name, v in obj.items()})


def _materials(value: Any) -> list[MaterialFlows]:
    if not isinstance(value, list) or not value:
        raise ScoringInputError("materials", "must be a non-empty list of materials")
    if len(value) > MAX_MATERIALS:
        raise LimitError(f"materials: {len(value)} materials, over the limit of {MAX_MATERIALS}")
    return [_material(position, item) for position, item in enumerate(value)]


def present(value: Decimal) -> str:
    """``value`` rounded to 6 decimal places, as the shortest plain decimal string."""
    context = Context(prec=max(value.adjusted(), 0) + 10)
    text = format(value.quantize(PLACES, context=context), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _components(part: MaterialComponents) -> dict[str, str]:
    names = ("v", "w0", "wc", "wf", "w", "lfi")
    return {"mass_kg": present(part.mass)} | {n: present(getattr(part, n)) for n in names}


def render(result: MciResult) -> dict[str, Any]:
    """The answer's JSON: every component as a decimal string."""
    names = ("mci", "lfi", "utility", "f_x", "v", "w", "w0", "wc", "wf")
    body: dict[str, Any] = {"method": result.method}
    body |= {name: present(getattr(result, name)) for name in names}
    body["mass_kg"] = present(result.mass)
    body["materials"] = [_components(part) for part in result.materials]
    body["ignored"] = list(result.ignored)
    if result.ignored:
        fields = ", ".join(result.ignored)
        body["note"] = f"method {result.method} has no {fields}: they were ignored"
    return body


@router.post(
    "/circularity/mci",
    summary="Material Circularity Indicator of a product's materials (what-if, not stored)",
    description=(
        "EMF Material Circularity Indicator, 2015 or 2019 method. Omitted fractions are 0, "
        "omitted efficiencies and ratios 1; under 2015, fs, cc and ce are ignored and the "
        "answer says so. Every component is returned; see docs/scoring.md."
    ),
    openapi_extra=_BODY,
    response_class=JSONResponse,
)
async def post_mci(request: Request) -> JSONResponse:
    body = parse_body(await request.body())
    _unknown("", body, BODY_FIELDS)
    if "method" not in body:
        raise ScoringInputError("method", "is required (2015 or 2019)")
    method = _method(body["method"])
    result = mci(
        _materials(body.get("materials")),
        method=method,
        lifetime_ratio=_decimal("lifetime_ratio", body.get("lifetime_ratio", Decimal(1))),
        intensity_ratio=_decimal("intensity_ratio", body.get("intensity_ratio", Decimal(1))),
    )
    return JSONResponse(render(result))
