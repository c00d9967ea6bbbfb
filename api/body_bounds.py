"""What a ``POST /v1/entries`` body may hold before it is parsed: how deep it nests, and how many
JSON values it has, no more than a full batch of envelopes can.

The route (``api.routes.entries``) and the per-key rate limit (``api.ratelimit``) both read the
body, the rate limit first; both bound it here before parsing it, so neither spends seconds of a
worker or hundreds of MB on a body no batch could be. The body's size in bytes is bounded
earlier still (``api.limits``); what each value must be is the route's and the envelope's.
"""

from __future__ import annotations

import re
from typing import Final

from api.problems import BadRequest
from ledger.envelope import MAX_SIGNATURES

# Commas and opening brackets of an envelope signed MAX_SIGNATURES times, its separator included:
# an object and an array, one object per signature, two commas between its three members, two
# per further signature (between the objects, between keyid and sig) and one in the first.
_MARKS_PER_ENVELOPE: Final = 3 * MAX_SIGNATURES + 4
# {"envelopes": [{"signatures": [{…}]}]} is four levels deep; eight leave room to say what
# is wrong with a near miss.
MAX_DEPTH: Final = 8
# More openers in a row than MAX_DEPTH: a body nested too deep, whatever else is wrong with it.
_TOO_DEEP: Final = re.compile(rb"[\[{]{%d}" % (MAX_DEPTH + 1))


def bound_values(raw: bytes, max_batch: int) -> None:
    """Refuse (413) a body holding more JSON values than a batch of ``max_batch`` envelopes can,
    before it is parsed: parsed, 8 MiB of ``[],`` are millions of objects (seconds of a worker,
    hundreds of MB). Each value but the first follows a comma or an opening bracket, and
    neither occurs in base64 or in a key id, so counting those bytes bounds the values."""
    limit = 2 + _MARKS_PER_ENVELOPE * max_batch
    marks = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if marks > limit:
        if _TOO_DEEP.search(raw):  # the more telling refusal
            raise BadRequest(f"body is nested deeper than {MAX_DEPTH} levels", status=413)
        raise BadRequest(
            f"body has {marks} commas and opening brackets, over the {limit} of a batch of "
            f"{max_batch} envelopes with {MAX_SIGNATURES} signatures each",
            status=413,
        )
