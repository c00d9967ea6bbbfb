"""The demo's cast: ten fictional workshops "(demo)" in real towns, and what they handle.

Who the season of ``api.demo_story`` is about: each workshop (and the recycler near Milan that
joins the directory late) with its facilities, roles and real coordinates, the slug its events
are signed under; and the identifiers of what passes through their hands: the lots, the items'
GS1 paths (GTINs under a fictional company prefix), the product names, the delivery note the
ledger refuses. Everything here is data, fixed once; the events are in ``api.demo_story``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# -- the actors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoFacility:
    id: str
    name: str
    town: str
    region: str
    lat: str  # the town's (or the Milan district's) real coordinates
    lon: str
    country: str = "IT"


@dataclass(frozen=True)
class DemoActor:
    slug: str
    name: str
    roles: tuple[str, ...]
    facilities: tuple[DemoFacility, ...]

    @property
    def id(self) -> str:
        return f"urn:spola:actor:{self.slug}"

    def profile(self) -> dict[str, Any]:
        """The fields of this actor's ``actor`` event (register or update)."""
        home = self.facilities[0]
        return {
            "id": self.id,
            "name": self.name,
            "roles": list(self.roles),
            "country": home.country,
            "region": home.region,
            "facilities": [
                {
                    "id": f.id,
                    "name": f.name,
                    "town": f.town,
                    "region": f.region,
                    "country": f.country,
                    "lat": f.lat,
                    "lon": f.lon,
                }
                for f in self.facilities
            ],
        }


_REGIONS: Final = {"Biella": "Piemonte", "Prato": "Toscana"}  # the others: Lombardia


def _actor(
    slug: str, name: str, town: str, lat: str, lon: str, *roles: str, **more: DemoFacility
) -> DemoActor:
    region = _REGIONS.get(town, "Lombardia")
    main = DemoFacility("main", name, town, region, lat, lon)
    return DemoActor(slug, name, roles or ("supplier",), (main, *more.values()))


SILK_MILL = "setificio-lariano"
PRINTER = "stamperia-grandate"
WOOL_MILL = "lanificio-valle-cervo"
TANNERY = "conceria-del-ticino"
TRIMS = "minuterie-lecchesi"
ATELIER = "atelier-brera"
BRAND = "maison-navigli"
REPAIRER = "sartoria-riparo"
RESALE = "seconda-vita"
RECYCLER = "rigenera-tessile"
LOCAL_RECYCLER = "fibra-brianza"  # offers recycling near Milan; has not done any yet

_MAISON = "Maison Navigli (demo)"
_BOUTIQUE = DemoFacility(
    "boutique", f"{_MAISON}, via Monte Napoleone", "Milano", "Lombardia", "45.4684", "9.1955"
)
# Milan's workshops sit in their districts (Brera, Navigli, Isola, Porta Venezia).
DEMO_ACTORS: Final = (
    _actor(SILK_MILL, "Setificio Lariano (demo)", "Como", "45.8081", "9.0852"),
    _actor(PRINTER, "Stamperia Grandate (demo)", "Grandate", "45.7712", "9.0585"),
    _actor(WOOL_MILL, "Lanificio Valle Cervo (demo)", "Biella", "45.5629", "8.0583"),
    _actor(TANNERY, "Conceria del Ticino (demo)", "Robecchetto con Induno", "45.5333", "8.7667"),
    _actor(TRIMS, "Minuterie Lecchesi (demo)", "Lecco", "45.8500", "9.4000"),
    _actor(ATELIER, "Atelier Brera (demo)", "Milano", "45.4719", "9.1881"),
    _actor(BRAND, _MAISON, "Milano", "45.4520", "9.1760", "brand", "retailer", shop=_BOUTIQUE),
    _actor(REPAIRER, "Sartoria Riparo (demo)", "Milano", "45.4880", "9.1899", "repairer"),
    _actor(RESALE, "Seconda Vita (demo)", "Milano", "45.4745", "9.2052", "retailer"),
    _actor(RECYCLER, "Rigenera Tessile (demo)", "Prato", "43.8808", "11.0966", "recycler"),
    _actor(LOCAL_RECYCLER, "Fibra Brianza (demo)", "Seregno", "45.6510", "9.2044", "recycler"),
)

# -- identifiers --------------------------------------------------------------------------------

# GTINs under a fictional Italian (80x) company prefix, mod-10 check digits correct.
SCARF_GTIN: Final = "08000000001016"
JACKET_GTIN: Final = "08000000002020"
BAG_GTIN: Final = "08000000003034"


def _items(gtin: str, *serials: str) -> tuple[str, ...]:
    return tuple(f"/01/{gtin}/21/{serial}" for serial in serials)


SCARVES: Final = _items(
    SCARF_GTIN, "ORCIXS3356CPAJNMKYAQ", "BMO2ZTDZWCAXFY2VIAFQ", "FUA72WPOMAU2V7OFYHEQ"
)
JACKETS: Final = _items(JACKET_GTIN, "I2WCYWNLMFBZJF7IAH3A", "YMCKD52RLKDGHMY642TQ")
BAGS: Final = _items(BAG_GTIN, "GXHD2LJAYBSI2WBWCSGA", "OSAPLTPSGSMADWF6M23A")


def _lot(slug: str, local: str) -> str:
    return f"urn:spola:lot:{slug}:{local}"


RAW_SILK: Final = _lot(SILK_MILL, "GR26-031")
SILK_YARN: Final = _lot(SILK_MILL, "OR26-031")
TWILL: Final = _lot(SILK_MILL, "TW26-0117")
DEGUMMED: Final = _lot(PRINTER, "SG26-0588")
PRINTED: Final = _lot(PRINTER, "ST26-0588")
TOPS: Final = _lot(WOOL_MILL, "TP26-118")
WOOL_YARN: Final = _lot(WOOL_MILL, "FL26-118")
GREIGE: Final = _lot(WOOL_MILL, "PZ26-0731")
FLANNEL: Final = _lot(WOOL_MILL, "FN26-0731")
CRUST: Final = _lot(TANNERY, "VG26-207")
LEATHER: Final = _lot(TANNERY, "VF26-207")
BRASS: Final = _lot(TRIMS, "OT26-0452")
BLANKS: Final = _lot(TRIMS, "FB26-0452")
BUCKLES: Final = _lot(TRIMS, "PL26-0452")
BUCKLES_REPLATED: Final = _lot(TRIMS, "PL26-0452R")
RECYCLED_WOOL: Final = _lot(RECYCLER, "RC26-0091")
BLEND_YARN: Final = _lot(WOOL_MILL, "FR26-0091")
NEW_CLOTH: Final = _lot(WOOL_MILL, "PZ26-0912")

DOUBLE_SPEND: Final = "DDT-SL-0415"  # the silk mill's delivery note that the ledger refuses

# -- the pieces ---------------------------------------------------------------------------------

SCARF: Final = "Foulard Lario 90x90, printed organic silk twill"
JACKET: Final = "Giacca Cervo, merino flannel jacket"
BAG: Final = "Borsa Ticino, vegetable-tanned leather bag with palladium buckles"
