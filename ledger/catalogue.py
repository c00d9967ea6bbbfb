"""The catalogue of materials and process types that events refer to.

The catalogue is data, not code: ``ledger/data/catalogue.json`` ships inside the package and this
module loads it once, validates it strictly and answers look-ups. Each material row says what a
lot of that material is (category, biological or technical cycle, feedstock, renewability), the
default recycling efficiencies of the Ellen MacArthur Foundation's Material Circularity Indicator
(E_F for making recycled feedstock, E_C for recycling at end of life), its usual end-of-life
routes and the certification schemes that apply; each process row names its stage, what goes in
and out, and the GS1 CBV 2.0 business step an EPCIS export uses for it. Every row cites at least
one of the sources declared in the file. docs/catalogue.md describes the fields.

Ids are published. Once a release ships an id, signed events in the log name it (a material lot
its catalogue material, a process event its process type), and replaying the log years later must
reach the same verdicts. So an id is never removed or renamed and never changes meaning: add a
new row, and say in the old row's note what replaces it. Add, don't rename.

This module owns the file's format and integrity (unique ids, every source and scheme declared,
efficiencies as decimal strings within [0, 1]); what the scores make of the figures belongs to
``scoring``, and HTTP to ``api.routes.catalogue``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ledger.canonical import parse_json
from ledger.errors import FormatError

DATA_PACKAGE: Final = "ledger"
DATA_PATH: Final = ("data", "catalogue.json")
MAX_FILE_BYTES: Final = 4 * 1024 * 1024

Category = Literal[
    "fibre-animal",
    "fibre-plant",
    "fibre-man-made-cellulosic",
    "fibre-synthetic",
    "leather",
    "leather-alternative",
    "metal",
    "trim",
    "thread",
    "packaging",
]
Cycle = Literal["biological", "technical"]
Feedstock = Literal["virgin", "recycled", "bio-based", "reused"]
EndOfLife = Literal[
    "reuse",
    "remanufacturing",
    "mechanical-recycling",
    "chemical-recycling",
    "metal-recovery",
    "composting",
    "energy-recovery",
    "landfill",
]
Stage = Literal[
    "fibre",
    "yarn",
    "fabric",
    "wet-processing",
    "leather",
    "hardware",
    "assembly",
    "finishing",
    "circular",
]
# GS1 CBV 2.0 §7.1, the BizStep code list (short names; the URN is urn:epcglobal:cbv:bizstep:…).
BizStep = Literal[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
]

CATEGORIES: Final[tuple[str, ...]] = get_args(Category)
CYCLES: Final[tuple[str, ...]] = get_args(Cycle)
STAGES: Final[tuple[str, ...]] = get_args(Stage)
BIZ_STEPS: Final[tuple[str, ...]] = get_args(BizStep)

SLUG_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{1,47}$"
SCHEME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$"
_FRACTION = re.compile(r"^[01](\.[0-9]{1,4})?$")


def _fraction(*, positive: bool) -> Any:
    def check(value: str) -> str:
        # A decimal string such as "0.85": never a float, at most four decimals, within [0, 1].
        if not _FRACTION.match(value) or Decimal(value) > 1:
            raise ValueError("must be a decimal string between '0' and '1', e.g. '0.85'")
        if positive and Decimal(value) == 0:
            # The MCI divides by E_F (waste from making recycled feedstock, W_F).
            raise ValueError("must be greater than 0: the MCI divides by E_F")
        return value

    return AfterValidator(check)


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        twice = sorted({v for v in values if values.count(v) > 1})
        raise ValueError(f"lists {', '.join(twice)} more than once")
    return values


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
SchemeId = Annotated[str, StringConstraints(pattern=SCHEME_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Note = Annotated[str, StringConstraints(min_length=1, max_length=600)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=300)]
SourceIds = Annotated[tuple[Slug, ...], Field(min_length=1), AfterValidator(_distinct)]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Source(_Row):
    """A publication rows cite: report, standard, regulation or paper."""

    title: Text
    publisher: Text
    year: int = Field(ge=1900, le=2100)
    url: Url | None


class Scheme(_Row):
    """A certification scheme that can apply to lots of a material."""

    name: Text
    owner: Text
    url: Url


class Efficiencies(_Row):
    """MCI recycling efficiencies, as decimal strings (E_F, E_C; EMF MCI methodology)."""

    feedstock: Annotated[str, _fraction(positive=True)]
    end_of_life: Annotated[str, _fraction(positive=False)]

    @property
    def e_f(self) -> Decimal:
        """Efficiency of the recycling process that produces recycled feedstock."""
        return Decimal(self.feedstock)

    @property
    def e_c(self) -> Decimal:
        """Efficiency of the recycling process applied to the material collected at end of life."""
        return Decimal(self.end_of_life)


class Material(_Row):
    id: Slug
    name: Text
    category: Category
    cycle: Cycle
    feedstock: Feedstock
    renewable: bool
    recycling_efficiency: Efficiencies
    end_of_life: Annotated[tuple[EndOfLife, ...], Field(min_length=1), AfterValidator(_distinct)]
    schemes: Annotated[tuple[SchemeId, ...], AfterValidator(_distinct)]
    sources: SourceIds
    note: Note | None = None


class ProcessType(_Row):
    id: Slug
    name: Text
    stage: Stage
    transforms: Text
    epcis_biz_step: BizStep | None
    circular: bool
    sources: SourceIds
    note: Note | None = None


class Catalogue(_Row):
    """The whole catalogue; every instance has passed the integrity checks."""

    version: Literal[1]
    schemes: dict[SchemeId, Scheme]
    sources: dict[Slug, Source]
    materials: tuple[Material, ...] = Field(min_length=1)
    processes: tuple[ProcessType, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_integrity(self) -> Catalogue:
        _check_rows("materials", self.materials, sources=self.sources)
        _check_rows("processes", self.processes, sources=self.sources)
        for i, material in enumerate(self.materials):
            for scheme in material.schemes:
                if scheme not in self.schemes:
                    raise ValueError(
                        f"materials[{i}] ({material.id}): schemes: unknown scheme {scheme!r}"
                    )
        return self

    # Plain cached properties, not pydantic private attributes: the rules look rows up on every
    # replayed event, and a private attribute is read through BaseModel.__getattr__ (~1 us).
    @functools.cached_property
    def materials_by_id(self) -> dict[str, Material]:
        return {m.id: m for m in self.materials}

    @functools.cached_property
    def processes_by_id(self) -> dict[str, ProcessType]:
        return {p.id: p for p in self.processes}

    @classmethod
    def from_bytes(cls, data: bytes) -> Catalogue:
        """Parse and check the catalogue file's bytes; FormatError says what is wrong and where."""
        try:
            obj = parse_json(data, max_bytes=MAX_FILE_BYTES, max_depth=8, what="catalogue")
        except FormatError as exc:
            raise FormatError(f"catalogue: {exc}") from None
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise FormatError(f"catalogue: {_explain(exc, obj)}") from None

    @classmethod
    def from_json(cls, obj: Any) -> Catalogue:
        """Check an already parsed catalogue (a dict as ``json.loads`` returns it)."""
        return cls.from_bytes(json.dumps(obj, ensure_ascii=False).encode("utf-8"))

    def material(self, material_id: str) -> Material | None:
        return self.materials_by_id.get(material_id)

    def process(self, process_id: str) -> ProcessType | None:
        return self.processes_by_id.get(process_id)

    def select_materials(
        self,
        *,
        category: str | None = None,
        cycle: str | None = None,
        scheme: str | None = None,
    ) -> tuple[Material, ...]:
        """Materials matching every filter given, in catalogue order."""
        return tuple(
            m
            for m in self.materials
            if (category is None or m.category == category)
            and (cycle is None or m.cycle == cycle)
            and (scheme is None or scheme in m.schemes)
        )

    def select_processes(self, *, stage: str | None = None) -> tuple[ProcessType, ...]:
        """Process types of ``stage`` (all when None), in catalogue order."""
        return tuple(p for p in self.processes if stage is None or p.stage == stage)


def _check_rows(
    kind: str, rows: Sequence[Material | ProcessType], *, sources: Mapping[str, Source]
) -> None:
    """Ids unique within ``kind``; every cited source declared."""
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row.id in first:
            raise ValueError(f"{kind}: duplicate id {row.id!r} (rows {first[row.id]} and {i})")
        first[row.id] = i
        for source in row.sources:
            if source not in sources:
                raise ValueError(f"{kind}[{i}] ({row.id}): sources: unknown source {source!r}")


def _explain(exc: ValidationError, obj: Any) -> str:
    """The first error, located as ``materials[3] (wool-recycled).field``."""
    error = exc.errors()[0]
    parts: list[str] = []
    node = obj
    for part in error["loc"]:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            row_id = node.get("id") if isinstance(node, dict) else None
            where = f"[{part}]" + (f" ({row_id})" if isinstance(row_id, str) else "")
            if parts:
                parts[-1] += where
            else:
                parts.append(where)
        else:
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(str(part))
    message = error["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{'.'.join(parts)}: {message}{more}" if parts else f"{message}{more}"


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped with this release, loaded and checked once."""
    data = resources.files(DATA_PACKAGE).joinpath(*DATA_PATH).read_bytes()
    return Catalogue.from_bytes(data)
