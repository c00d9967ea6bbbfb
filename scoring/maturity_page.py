"""The company page: one maturity document in, one self-contained HTML5 page out.

The page shows a company's maturity level overall and per dimension, a radar chart of its
dimension scores (now and at its first assessment), the ledger evidence behind them, its
roadmap and the history of its assessments, in Italian or English. The chart is drawn on the
server by pygal, a charting library that emits SVG; the SVG is inlined with pygal's scripts and
comments removed, so the page runs no script and fetches nothing from any host, like the
passport page (``passports.page``), whose look it shares.

It leaves out building the document (``api.routes.maturity.maturity_json``) and HTTP. Every
value from the document is escaped by Jinja2; only the chart is inlined as markup, after a
check that it holds nothing active.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, Final

import pygal  # type: ignore[import-untyped]
from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygal.style import Style  # type: ignore[import-untyped]

from passports.page import Formatter, Lang

__all__ = ["STRINGS", "radar_svg", "render_company"]

_ACTIVE: Final = re.compile(r"<script|<foreignobject|\son[a-z]+\s*=|href|url\(|@import", re.I)
CHART_SIZE: Final = 360
SHORT_NAMES: Final[dict[str, dict[str, str]]] = {
    "traceability": {"it": "Tracciabilità", "en": "Traceability"},
    "materials": {"it": "Materiali", "en": "Materials"},
    "circularity": {"it": "Circolarità", "en": "Circularity"},
    "environment": {"it": "Ambiente", "en": "Environment"},
    "social": {"it": "Sociale", "en": "Social"},
    "digital": {"it": "Digitale", "en": "Digital"},
}
STRINGS: Final[dict[str, dict[str, Any]]] = {
    "it": {
        "site": "maturità d'impresa", "skip": "Vai al contenuto", "languages": "Lingue",
        "overall": "Livello complessivo", "of_five": "su 5", "model": "Modello",
        "assessed": "Autovalutazione del {date} (voce {index} del registro)",
        "not_assessed": "Nessuna autovalutazione firmata: livelli dalle sole prove del registro.",
        "chart": "Punteggi per dimensione (0\u20135)", "chart_now": "Oggi",
        "chart_first": "Prima valutazione ({date})", "dimensions": "Dimensioni",
        "dimension": "Dimensione", "level": "Livello", "score": "Punteggio",
        "roadmap": "Prossimi passi", "roadmap_intro": "Per dimensione, le azioni per salire "
        "al livello successivo, in ordine di peso \u00d7 scarto.",
        "to_level": "verso il livello {n}", "target": "Obiettivo", "shown_by": "Lo mostra",
        "shown_by_answer": "una risposta con certificato valido", "top": "al livello massimo",
        "evidence": "Prove dal registro", "metric": "Misura", "value": "Valore",
        "entries": "Voci", "none": "\u2013", "history": "Storico delle valutazioni",
        "date": "Data", "entry": "Voce", "questions": "Domande",
        "answer": {"yes": "sì", "partial": "in parte", "no": "no", None: "senza risposta"},
        "basis": {"metric": "provato dal registro", "certificate": "con certificato",
                  "self-declared": "dichiarato (metà credito)", "unanswered": "\u2013"},
        "metrics": {
            "traceability_coverage": "Massa tracciata a un'origine firmata",
            "signed_receipts_share": "Consegne con ricevuta firmata",
            "certified_share": "Massa certificata",
            "local_share_lombardy": "Massa da fornitori lombardi",
            "local_share_italy": "Massa da fornitori italiani",
            "mean_product_mci": "MCI medio dei prodotti",
            "social_data_coverage": "Lavorazioni con dati sociali",
            "environmental_data_coverage": "Lavorazioni con dati ambientali",
        },
        "bands": "Un livello è raggiunto quando il credito ponderato delle domande fino a quel "
        "livello raggiunge la soglia: {bands}. Le risposte provate contano per intero, quelle "
        "dichiarate a metà.",
    },
    "en": {
        "site": "company maturity", "skip": "Skip to content", "languages": "Languages",
        "overall": "Overall level", "of_five": "of 5", "model": "Model",
        "assessed": "Self-assessment of {date} (log entry {index})",
        "not_assessed": "No signed self-assessment yet: levels from ledger evidence alone.",
        "chart": "Scores per dimension (0\u20135)", "chart_now": "Now",
        "chart_first": "First assessment ({date})", "dimensions": "Dimensions",
        "dimension": "Dimension", "level": "Level", "score": "Score",
        "roadmap": "Next steps", "roadmap_intro": "Per dimension, the actions that lead to "
        "the next level, ranked by weight \u00d7 gap.",
        "to_level": "towards level {n}", "target": "Target", "shown_by": "Shown by",
        "shown_by_answer": "an answer citing a valid certificate", "top": "at the top level",
        "evidence": "Evidence from the ledger", "metric": "Metric", "value": "Value",
        "entries": "Entries", "none": "\u2013", "history": "Assessment history",
        "date": "Date", "entry": "Entry", "questions": "Questions",
        "answer": {"yes": "yes", "partial": "partly", "no": "no", None: "unanswered"},
        "basis": {"metric": "evidenced by the ledger", "certificate": "with a certificate",
                  "self-declared": "self-declared (half credit)", "unanswered": "\u2013"},
        "metrics": {
            "traceability_coverage": "Mass traced to a signed origin",
            "signed_receipts_share": "Handovers with a signed receipt",
            "certified_share": "Certified mass",
            "local_share_lombardy": "Mass from Lombard suppliers",
            "local_share_italy": "Mass from Italian suppliers",
            "mean_product_mci": "Mean product MCI",
            "social_data_coverage": "Processes with social data",
            "environmental_data_coverage": "Processes with environmental data",
        },
        "bands": "A level is reached when the weighted credit of the questions up to it reaches "
        "its band: {bands}. Evidenced answers count in full, self-declared ones at half.",
    },
}  # fmt: skip
_STYLE: Final = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d1b18",
    foreground_strong="#1d1b18",
    foreground_subtle="#8a8377",
    colors=("#1f5c45", "#a8461f"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    opacity=".35",
    opacity_hover=".5",
)


def _strip_active(root: Any) -> Any:
    # pygal embeds a config <script> and a generator comment; the page wants neither. Works on
    # lxml and xml.etree trees alike (pygal uses whichever is installed).
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag if isinstance(child.tag, str) else ""
            if not tag or tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def radar_svg(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """A radar chart of scores 0 to 5 as an inline SVG element, without scripts or comments."""
    chart = pygal.Radar(
        style=_STYLE, width=CHART_SIZE, height=CHART_SIZE, range=(0, 5), fill=True,
        js=[], disable_xml_declaration=True, explicit_size=False, legend_at_bottom=True,
        legend_at_bottom_columns=1, show_dots=True, dots_size=3, margin=8, y_labels=[1, 2, 3, 4, 5],
    )  # fmt: skip
    chart.uuid = "maturity"  # a fixed id: the same document always renders the same bytes
    chart.add_xml_filter(_strip_active)
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    svg: str = chart.render(is_unicode=True)
    return re.sub(r"<!--.*?-->", "", svg, flags=re.S)


def _chart(doc: Mapping[str, Any], lang: Lang) -> Markup | None:
    dims = doc.get("dimensions") or []
    labels = [SHORT_NAMES.get(d["id"], d["name"])[lang] for d in dims]
    series = [(STRINGS[lang]["chart_now"], [float(Decimal(d["score"])) for d in dims])]
    history = doc.get("history") or []
    if len(history) > 1:
        first = history[0]
        label = STRINGS[lang]["chart_first"].format(date=Formatter(lang).date(first["date"]))
        series.append((label, [float(Decimal(first["scores"][d["id"]])) for d in dims]))
    svg = radar_svg(labels, series)
    start = svg.find("<svg")
    if start < 0 or _ACTIVE.search(svg):
        return None
    return Markup(svg[start:])  # noqa: S704 # nosec B704 # our own chart, checked above


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("scoring", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_company(doc: Mapping[str, Any], *, lang: Lang) -> str:
    """The company page of maturity document ``doc`` in ``lang``."""
    template = _environment().get_template("company.html")
    bands = ", ".join(f"{n}: {Decimal(v) * 100:.0f}%" for n, v in doc["model"]["bands"].items())
    return template.render(
        lang=lang,
        t=STRINGS[lang],
        languages=[("it", "Italiano"), ("en", "English")],
        fmt=Formatter(lang),
        doc=doc,
        chart=_chart(doc, lang),
        bands=bands,
        names={d["id"]: d["name"][lang] for d in doc.get("dimensions") or []},
    )
