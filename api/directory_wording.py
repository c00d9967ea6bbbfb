"""What the directory's pages say, in Italian and English: ``STRINGS``, each phrase in both.

The search page, the profile page and the refusals of every public page
(``api.directory_page``) word themselves from here; the company page's own wording is
``scoring.maturity_page``'s. A phrase with ``{placeholders}`` is filled in, escaped, by the page
that says it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from passports.page import Lang, by_language

# Each phrase in Italian and English, side by side.
STRINGS: Final[Mapping[Lang, Mapping[str, Any]]] = by_language(
    {
        "site": ("elenco fornitori", "supplier directory"),
        "skip": ("Vai al contenuto", "Skip to content"),
        "languages": ("Lingue", "Languages"),
        "directory": ("Elenco fornitori", "Supplier directory"),
        "intro": (
            "Laboratori e fornitori con la loro storia firmata: ciò che dichiarano e ciò che "
            "il registro dimostra.",
            "Workshops and suppliers with their signed history: what they declare and what the "
            "ledger proves.",
        ),
        "process": ("Lavorazione", "Process"),
        "material": ("Materiale", "Material"),
        "certificate": ("Certificazione", "Certificate"),
        "region": ("Regione", "Region"),
        "near": ("Vicino a (lat,lon)", "Near (lat,lon)"),
        "radius": ("Raggio (km)", "Radius (km)"),
        "search": ("Cerca", "Search"),
        "any": ("Qualsiasi", "Any"),
        "matches": ("Risultati", "Matches"),
        "best_of": (
            "mostrati i migliori {shown} di {matched}",
            "showing the best {shown} of {matched}",
        ),
        "incomplete": (
            "Sono registrati più fornitori di quanti una ricerca ne legga: alcuni non sono stati "
            "cercati.",
            "More suppliers are registered than a search reads: some were not searched.",
        ),
        "score_explained": (
            "Il punteggio unisce la vicinanza e la storia verificata che il fornitore rende "
            "pubblica; i dati che tiene riservati non contano.",
            "The score combines nearness and the verified record the supplier makes public; "
            "figures it keeps private do not count.",
        ),
        "none": ("Nessun fornitore corrisponde ai filtri.", "No supplier matches these filters."),
        "verified": ("verificato", "verified"),
        "unverified": ("dichiarato, non ancora dimostrato", "declared, not yet evidenced"),
        "entries": ("voci del registro", "log entries"),
        "score": ("Punteggio", "Score"),
        "score_of": ("{n} su 100", "{n} out of 100"),
        "roles": {
            "operator": ("gestore del registro", "ledger operator"),
            "supplier": ("fornitore", "supplier"),
            "brand": ("marchio", "brand"),
            "certifier": ("ente di certificazione", "certifier"),
            "repairer": ("riparatore", "repairer"),
            "recycler": ("riciclatore", "recycler"),
            "retailer": ("rivenditore", "retailer"),
            "logistics": ("logistica", "logistics"),
        },
        "services": {
            "repair": ("riparazioni", "repairs"),
            "take-back": ("ritiri", "take-backs"),
            "recycling": ("riciclo", "recycling"),
        },
        "facilities": ("Sedi", "Facilities"),
        "processes": ("Lavorazioni", "Processes"),
        "materials": ("Materiali", "Materials"),
        "certificates": ("Certificazioni", "Certificates"),
        "valid": ("valido", "valid"),
        "expired": ("non valido oggi", "not valid today"),
        "expired_on": ("non valido il {date}", "not valid on {date}"),
        "record": ("Storia verificata", "Verified track record"),
        "figure_volumes": ("Volumi", "Volumes"),
        "figure_partners": ("Partner distinti", "Distinct partners"),
        "figure_acceptance": ("Consegne ricevute e accettate", "Handovers received and accepted"),
        "figure_certified": ("Eventi con materiale certificato", "Events with certified material"),
        "figure_distance": ("Distanza media delle consegne", "Mean handover distance"),
        "figure_services": ("Servizi", "Services"),
        "figure_maturity": ("Livello di maturità", "Maturity level"),
        "record_incomplete": (
            "Il fornitore ha più voci nel registro di quante la storia ne legga: alcune voci di "
            "questo periodo potrebbero non essere contate, e i dati essere parziali.",
            "The supplier has more log entries than a track record reads: some entries of this "
            "period may not be counted, so the figures may be partial.",
        ),
        # A search result whose figures may be partial, worded as the profile's notice.
        "match_record_incomplete": (
            "Il fornitore ha più voci nel registro di quante la storia ne legga: alcune voci di "
            "questo periodo potrebbero non essere contate, e il punteggio poggiare su dati "
            "parziali.",
            "The supplier has more log entries than a track record reads: some entries of this "
            "period may not be counted, so the score may rest on partial figures.",
        ),
        # The profile page's refusals: a parameter it refused, an actor it does not know.
        "refused_title": ("Richiesta non valida", "Request not valid"),
        "unknown_title": ("Fornitore non trovato", "Supplier not found"),
        "unknown": (
            "Nell'elenco non c'è alcun fornitore {actor}: controlla l'indirizzo, o cerca "
            "nell'elenco per lavorazione, materiale o regione.",
            "The directory has no supplier {actor}: check the address, or search the directory "
            "by process, material or region.",
        ),
        "open_profile": ("Apri il profilo", "Open the profile"),
        "search_directory": ("Cerca nell'elenco fornitori", "Search the supplier directory"),
        # The company page's: an address it refused, a company without a public page. One
        # wording for an unknown company, the operator and a hidden maturity: the page tells
        # the public no more than the JSON route does.
        "company_missing_title": ("Pagina dell'azienda non trovata", "Company page not found"),
        "company_missing": (
            "Non c'è alcuna pagina pubblica di maturità per {company}: controlla l'indirizzo, o "
            "cerca l'azienda nell'elenco fornitori.",
            "There is no public maturity page for {company}: check the address, or look the "
            "company up in the supplier directory.",
        ),
        "open_company": ("Apri la pagina dell'azienda", "Open the company page"),
        # An address under the pages that no route answers, a method no page serves, a spent
        # rate limit (``render_unanswered``, for api.problems and api.ratelimit).
        "no_page_title": ("Pagina non trovata", "Page not found"),
        "no_page": (
            "Non c'è alcuna pagina all'indirizzo {path}: controlla l'indirizzo, o cerca "
            "nell'elenco fornitori.",
            "There is no page at {path}: check the address, or search the supplier directory.",
        ),
        "method": (
            "Questa pagina si può soltanto aprire: non riceve moduli né dati. Aprila dal suo "
            "indirizzo o da un collegamento.",
            "This page can only be opened: it takes no form or data. Open it from its address "
            "or a link.",
        ),
        "rate_limited_title": ("Troppe richieste", "Too many requests"),
        "rate_limited": (
            "Da questa connessione sono arrivate molte richieste in poco tempo. Aspetta un "
            "minuto e riprova.",
            "Many requests came from this connection in a short time. Wait a minute and try again.",
        ),
        "open_home": ("Vai alla pagina iniziale", "Go to the home page"),
        # The parts of a page's address a refusal names.
        "actor_id": ("Identificativo del fornitore", "Supplier identifier"),
        "slug": ("Indirizzo della pagina", "Page address"),
        # A refused filter: "{field}: {what is wrong}". {value} is the value as typed, quoted.
        "quoted": ("«{value}»", "“{value}”"),
        "refused": {
            "twice": ("più di un valore; lasciane uno solo", "given more than once; give it once"),
            "too_long": (
                "sono ammessi al massimo {limit} caratteri",
                "at most {limit} characters",
            ),
            "control": (
                "{value} contiene un carattere di controllo, che nessun indirizzo ammette",
                "{value} holds a control character, which no address may",
            ),
            "escape": (
                "{value} contiene un '%' non seguito da due cifre esadecimali, o escape che non "
                "sono testo UTF-8",
                "{value} holds a '%' not followed by two hex digits, or escapes that are no "
                "UTF-8 text",
            ),
            "nul": (
                "{value} contiene un carattere NUL, che nessun filtro ammette",
                "{value} holds a NUL character, which no filter may",
            ),
            "not_a_date": ("{value} non è una data AAAA-MM-GG", "{value} is not a date YYYY-MM-DD"),
            "too_early": (
                "{value} è una data troppo antica: la storia verificata è quella dell'anno prima",
                "{value} is too early: the track record is the year before it",
            ),
            "not_a_place": (
                "scrivi latitudine,longitudine in gradi decimali col punto, ad es. 45.4642,9.19",
                "give it as lat,lon in decimal degrees, e.g. 45.4642,9.19",
            ),
            "off_the_globe": (
                "la latitudine va da -90 a 90 e la longitudine da -180 a 180",
                "latitude must lie in [-90, 90] and longitude in [-180, 180]",
            ),
            # The field wants a plain decimal: "12,5" is refused, so the example keeps its dot.
            "not_km": (
                "{value} non è un numero di km (cifre decimali col punto, ad es. 60 o 12.5)",
                "{value} is not a number of km (decimal digits, e.g. 60 or 12.5)",
            ),
            "km_out_of_range": (
                "deve essere più di 0 e al massimo {limit} km",
                "must be more than 0 and at most {limit} km",
            ),
            "not_a_slug": (
                "{value} non è l'indirizzo di una pagina d'azienda: lettere minuscole, cifre e "
                "trattini, a cominciare da una lettera o una cifra",
                "{value} is not a company page's address: lower-case letters, digits and "
                "hyphens, starting with a letter or digit",
            ),
            "not_catalogued": {
                "process": (
                    "{value} non è una lavorazione del catalogo: scegline una dall'elenco",
                    "{value} is not a process of the catalogue: choose one from the list",
                ),
                "material": (
                    "{value} non è un materiale del catalogo: scegline uno dall'elenco",
                    "{value} is not a material of the catalogue: choose one from the list",
                ),
            },
        },
    }
)
