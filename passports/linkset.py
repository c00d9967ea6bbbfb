"""The RFC 9264 linkset a GS1 Digital Link resolver answers for ``linkType=all``.

One context object anchored at the Digital Link URI, with GS1 link types (GS1 Web Vocabulary,
https://gs1.org/voc/) as relation types: the consumer page (``gs1:pip``, also the
``gs1:defaultLink``), the passport data (``gs1:sustainabilityInfo``), the certificates behind it
(``gs1:certificationInfo``), and each version of the passport (RFC 5829 ``predecessor-version``
and ``latest-version``). ``link_header`` lists the same links, and the linkset itself, as the
RFC 8288 ``Link`` header a GS1-Conformant Resolver exposes on its answers and redirects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

GS1: Final = "https://gs1.org/voc/"
LINKSET_JSON: Final = "application/linkset+json"
LANGUAGES: Final = ["it", "en"]

# Link types this resolver serves, each with the media type a redirect leads to.
LINK_TYPES: Final = {
    "gs1:pip": "text/html",
    "gs1:defaultLink": "text/html",
    "gs1:sustainabilityInfo": "application/json",
    "gs1:certificationInfo": "application/json",
}


def link_targets(uri: str, api_url: str) -> dict[str, str]:
    """Where each served link type leads (``?linkType=...`` redirects there)."""
    return {
        "gs1:pip": uri,
        "gs1:defaultLink": uri,
        "gs1:sustainabilityInfo": api_url,
        "gs1:certificationInfo": f"{api_url}#certificates",
    }


# The Link header's titles: fixed words, never an actor's text (a header carries no such text
# safely, and GS1 asks only that each link have a human-readable title).
_TITLES: Final = {
    "gs1:pip": "Product passport",
    "gs1:defaultLink": "Product passport",
    "gs1:sustainabilityInfo": "Passport data",
    "gs1:certificationInfo": "Certificates",
}
_PAGES: Final = ("gs1:pip", "gs1:defaultLink")  # the consumer page, in each of LANGUAGES


def link_header(uri: str, api_url: str) -> str:
    """The RFC 8288 ``Link`` header of the passport at ``uri``: each served link with its GS1
    link type as a URI relation type, its media type and title, anchored at ``uri``; then
    ``rel="linkset"`` (RFC 9264 section 6) to the whole linkset. ``uri`` and ``api_url`` are
    percent-encoded (``DigitalLink.uri``), so no ``>`` or ``"`` can end a field early."""
    links = [
        f'<{target}>; rel="{GS1}{name.removeprefix("gs1:")}"; anchor="{uri}"; '
        f'type="{LINK_TYPES[name]}"; title="{_TITLES[name]}"'
        + ("".join(f'; hreflang="{lang}"' for lang in LANGUAGES) if name in _PAGES else "")
        for name, target in link_targets(uri, api_url).items()
    ]
    links.append(
        f'<{uri}?linkType=linkset>; rel="linkset"; anchor="{uri}"; type="{LINKSET_JSON}"; '
        'title="All links"'
    )
    return ", ".join(links)


def linkset(doc: Mapping[str, Any], *, uri: str, api_url: str) -> dict[str, Any]:
    name = doc["product"]["name"]
    page = {"href": uri, "title": name, "type": "text/html", "hreflang": LANGUAGES}
    data = {"href": api_url, "title": f"{name}: passport data", "type": "application/json"}
    context: dict[str, Any] = {
        "anchor": uri,
        f"{GS1}pip": [page],
        f"{GS1}defaultLink": [page],
        f"{GS1}sustainabilityInfo": [data],
        f"{GS1}certificationInfo": [
            {
                "href": f"{api_url}#certificates",
                "title": f"{c['scheme_name']} certificate {c['id']}",
                "type": "application/json",
            }
            for c in doc["certificates"]
        ]
        or [
            {
                "href": f"{api_url}#certificates",
                "title": "no certificates",
                "type": "application/json",
            }
        ],
        "latest-version": [
            {"href": f"{api_url}/versions/{doc['version']}", "type": "application/json"}
        ],
    }
    earlier = [v for v in doc["versions"] if v["version"] < doc["version"]]
    if earlier:
        context["predecessor-version"] = [
            {"href": f"{api_url}/versions/{v['version']}", "type": "application/json",
             "title": f"version {v['version']} ({v['cause']})"}
            for v in earlier
        ]  # fmt: skip
    return {"linkset": [context]}
