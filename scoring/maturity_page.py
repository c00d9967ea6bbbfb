"""The company page: one maturity document in, one self-contained HTML5 page out.

The page shows a company's maturity level overall and per dimension, a radar chart of its
dimension scores (now and at its first assessment), the ledger evidence behind them, its
roadmap and the history of its assessments, in Italian or English. The chart is drawn on the
server by pygal, a charting library that emits SVG; the SVG is inlined with pygal's scripts and
comments removed, so the page runs no script and fetches nothing from any host, like the
passport page (``passports.page``), whose layout and stylesheets (``passports/templates/``) it
extends.

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
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygal.style import Style  # type: ignore[import-untyped]

from passports.page import Formatter, Lang, by_language
from scoring.maturity import NO_MCI_NOTE, NO_PASSPORT_NOTE

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
# Each phrase in Italian and English, side by side.
STRINGS: Final[Mapping[Lang, Mapping[str, Any]]] = by_language(
    {
        "site": ("maturità d'impresa", "company maturity"),
        "skip": ("Vai al contenuto", "Skip to content"),
        "languages": ("Lingue", "Languages"),
        "overall": ("Livello complessivo", "Overall level"),
        "of_five": ("su 5", "of 5"),
        "model": ("Modello", "Model"),
        "assessed": (
            "Autovalutazione del {date} (voce {index} del registro)",
            "Self-assessment of {date} (log entry {index})",
        ),
        "not_assessed": (
            "Nessuna autovalutazione firmata: livelli dalle sole prove del registro.",
            "No signed self-assessment yet: levels from ledger evidence alone.",
        ),
        "chart": ("Punteggi per dimensione (0\u20135)", "Scores per dimension (0\u20135)"),
        "chart_now": ("Oggi", "Now"),
        "chart_first": ("Prima valutazione ({date})", "First assessment ({date})"),
        "dimensions": ("Dimensioni", "Dimensions"),
        "dimension": ("Dimensione", "Dimension"),
        "level": ("Livello (0\u20135)", "Level (0\u20135)"),
        "score": ("Punteggio (0\u20135)", "Score (0\u20135)"),
        "roadmap": ("Prossimi passi", "Next steps"),
        "roadmap_intro": (
            "Per ogni dimensione, le azioni che portano al livello successivo: prima quelle che "
            "pesano di più e sono più lontane dall'obiettivo.",
            "For each dimension, the actions that lead to the next level: first those that weigh "
            "most and are furthest from their target.",
        ),
        "to_level": ("verso il livello {n}", "towards level {n}"),
        "target": ("Obiettivo", "Target"),
        "shown_by": ("Lo mostra", "Shown by"),
        "shown_by_answer": (
            "una risposta con certificato valido",
            "an answer citing a valid certificate",
        ),
        "declared": {
            "yes": (
                "Già dichiarato: conta per metà finché non è mostrato come indicato qui sotto.",
                "Already declared: it counts at half until it is shown as below.",
            ),
            "partial": (
                "Dichiarato in parte: conta per un quarto; completatelo e mostratelo come "
                "indicato qui sotto.",
                "Declared in part: it counts at a quarter; complete it and show it as below.",
            ),
        },
        "certified_part": (
            "Fatto in parte, con certificato: conta per metà; completatelo perché conti per "
            "intero.",
            "Done in part, with a certificate: it counts at half; complete it to count in full.",
        ),
        "top": ("al livello massimo", "at the top level"),
        "evidence": ("Prove dal registro", "Evidence from the ledger"),
        "metric": ("Misura", "Metric"),
        "value": ("Valore", "Value"),
        "entries": ("Voci", "Entries"),
        "none": "\u2013",
        "notes": {
            NO_PASSPORT_NOTE: (
                "Nessun passaporto emesso finora da questa azienda",
                "No passport issued by this company yet",
            ),
            NO_MCI_NOTE: (
                "Per nessun passaporto di questa azienda si può ancora calcolare l'MCI",
                "No MCI can be computed yet for any passport this company issued",
            ),
        },
        "history": ("Storico delle valutazioni", "Assessment history"),
        "date": ("Data", "Date"),
        "entry": ("Voce", "Entry"),
        "questions": ("Domande", "Questions"),
        "answer": {
            "yes": ("sì", "yes"),
            "partial": ("in parte", "partly"),
            "no": "no",
            None: ("senza risposta", "unanswered"),
        },
        "basis": {
            "metric": ("provato dal registro", "evidenced by the ledger"),
            "certificate": ("con certificato", "with a certificate"),
            "self-declared": ("dichiarato (metà credito)", "self-declared (half credit)"),
            "unanswered": "\u2013",
        },
        "metrics": {
            "traceability_coverage": (
                "Massa tracciata a un'origine firmata",
                "Mass traced to a signed origin",
            ),
            "signed_receipts_share": (
                "Consegne con ricevuta firmata",
                "Handovers with a signed receipt",
            ),
            "certified_share": ("Massa certificata", "Certified mass"),
            "local_share_lombardy": ("Massa da fornitori lombardi", "Mass from Lombard suppliers"),
            "local_share_italy": ("Massa da fornitori italiani", "Mass from Italian suppliers"),
            "mean_product_mci": ("MCI medio dei prodotti", "Mean product MCI"),
            "social_data_coverage": ("Lavorazioni con dati sociali", "Processes with social data"),
            "environmental_data_coverage": (
                "Lavorazioni con dati ambientali",
                "Processes with environmental data",
            ),
        },
        "bands": (
            "Un livello è raggiunto quando il credito ponderato delle domande fino a quel "
            "livello raggiunge la soglia: {bands}. Le risposte provate contano per intero, "
            "quelle dichiarate a metà.",
            "A level is reached when the weighted credit of the questions up to it reaches its "
            "band: {bands}. Evidenced answers count in full, self-declared ones at half.",
        ),
    }
)
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


def _named(label: str) -> Any:
    # One image to assistive technology, named by ``label`` (WCAG 1.1.1): pygal titles its SVG
    # "Pygal", and its axis labels and dots would otherwise be read out one by one.
    def name(root: Any) -> Any:
        root.set("role", "img")
        root.set("aria-label", label)
        for child in list(root):
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag.rsplit("}", 1)[-1] == "title":
                child.text = label
        return root

    return name


def radar_svg(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    label: str | None = None,
) -> str:
    """A radar chart of scores 0 to 5 as an inline SVG element, without scripts or comments;
    with ``label``, one image whose accessible name and title are ``label``."""
    chart = pygal.Radar(
        style=_STYLE, width=CHART_SIZE, height=CHART_SIZE, range=(0, 5), fill=True,
        js=[], disable_xml_declaration=True, explicit_size=False, legend_at_bottom=True,
        legend_at_bottom_columns=1, show_dots=True, dots_size=3, margin=8, y_labels=[1, 2, 3, 4, 5],
    )  # fmt: skip
    chart.uuid = "maturity"  # a fixed id: the same document always renders the same bytes
    chart.add_xml_filter(_strip_active)
    if label is not None:
        chart.add_xml_filter(_named(label))
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    svg: str = chart.render(is_unicode=True)
    return re.sub(r"<!--.*?-->", "", svg, flags=re.S)


def _chart(doc: Mapping[str, Any], lang: Lang) -> Markup | None:
    dims = doc.get("dimensions") or []
    fmt = Formatter(lang)
    labels = [SHORT_NAMES.get(d["id"], d["name"])[lang] for d in dims]
    scores = [(STRINGS[lang]["chart_now"], [Decimal(d["score"]) for d in dims])]
    history = doc.get("history") or []
    if len(history) > 1:
        first = history[0]
        label = STRINGS[lang]["chart_first"].format(date=fmt.date(first["date"]))
        scores.append((label, [Decimal(first["scores"][d["id"]]) for d in dims]))
    # The chart's text alternative carries its data, written as the table writes scores.
    told = "; ".join(
        f"{name}: "
        + ", ".join(f"{n} {fmt.number(v, 2)}" for n, v in zip(labels, values, strict=True))
        for name, values in scores
    )
    series = [(name, [float(v) for v in values]) for name, values in scores]
    svg = radar_svg(labels, series, label=f"{STRINGS[lang]['chart']}. {told}.")
    start = svg.find("<svg")
    if start < 0 or _ACTIVE.search(svg):
        return None
    return Markup(svg[start:])  # noqa: S704 # nosec B704 # our own chart, checked above


@cache
def _environment() -> Environment:
    return Environment(
        # company.html and its own rules here; the shared layout from the passport page's package.
        loader=ChoiceLoader(
            [PackageLoader("scoring", "templates"), PackageLoader("passports", "templates")]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_company(doc: Mapping[str, Any], *, lang: Lang) -> str:
    """The company page of maturity document ``doc`` in ``lang``."""
    template = _environment().get_template("company.html")
    fmt = Formatter(lang)
    bands = ", ".join(f"{n}: {fmt.pct(v)}" for n, v in doc["model"]["bands"].items())
    return template.render(
        lang=lang,
        t=STRINGS[lang],
        languages=[("it", "Italiano"), ("en", "English")],
        fmt=fmt,
        doc=doc,
        chart=_chart(doc, lang),
        bands=bands,
        names={d["id"]: d["name"][lang] for d in doc.get("dimensions") or []},
        short={
            d["id"]: SHORT_NAMES.get(d["id"], d["name"])[lang] for d in doc.get("dimensions") or []
        },
    )
