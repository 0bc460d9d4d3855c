"""The demo shop: what it sells, where the stock is, and when more arrives.

Some SKUs are deliberately scarce so that spill-over between locations, backorders, fill-or-kill
cancellations and FIFO allocation of restocked units all really happen in a 200-order run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

LOCATIONS = ("WH-EAST", "WH-WEST", "HQ")
PROVIDER_OF = {"WH-EAST": "tpl-east", "WH-WEST": "tpl-west", "HQ": "in-house"}


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    price: Decimal
    kind: str = "physical"  # physical | digital
    stock: dict[str, int] = field(default_factory=dict)  # location -> initial on hand
    weight: float = 1.0  # how often shoppers pick it
    grams: int = 300
    dropship: bool = False  # sourced from the dropship supplier (no stock of ours)
    max_downloads: int = 5  # digital: downloads per unit bought
    link_ttl: int = 86400  # digital: how long its links work
    reorder_point: int = 0  # LowStock when available units over all locations fall below it

    @property
    def asset_key(self) -> str:
        return f"downloads/{self.sku.lower()}.zip"

    @property
    def content(self) -> bytes:
        """The file a digital product delivers (the demo uploads it; customers check what they get)."""
        return f"{self.title}\n".encode() * 64

    @property
    def digital(self) -> bool:
        return self.kind == "digital"


PRODUCTS: tuple[Product, ...] = (
    Product("TEE-BLK-M", "Tee, black, M", Decimal("24.00"), stock={"WH-EAST": 60, "WH-WEST": 40, "HQ": 20}, weight=6),
    Product("TEE-WHT-L", "Tee, white, L", Decimal("24.00"), stock={"WH-EAST": 50, "WH-WEST": 50}, weight=5),
    Product(
        "HOODIE-GRY-M",
        "Hoodie, grey, M",
        Decimal("59.00"),
        stock={"WH-EAST": 30, "WH-WEST": 30, "HQ": 10},
        weight=4,
        grams=700,
    ),
    Product("MUG-CLASSIC", "Classic mug", Decimal("12.50"), stock={"WH-EAST": 80, "HQ": 40}, weight=5),
    Product("CAP-NAVY", "Cap, navy", Decimal("19.00"), stock={"WH-WEST": 60, "HQ": 20}, weight=4),
    Product("SOCKS-3PK", "Socks, 3-pack", Decimal("15.00"), stock={"WH-EAST": 100, "WH-WEST": 100}, weight=5),
    Product("BOTTLE-STEEL", "Steel bottle", Decimal("29.00"), stock={"WH-EAST": 40, "WH-WEST": 30}, weight=3),
    # scarce: spills over from WH-EAST to WH-WEST, then backorders
    Product(
        "LAMP-ARC",
        "Arc floor lamp",
        Decimal("149.00"),
        stock={"WH-EAST": 6, "WH-WEST": 4},
        weight=2.5,
        grams=4000,
        reorder_point=4,
    ),
    # scarce and in-house only
    Product(
        "BOOT-TRAIL-42", "Trail boots, 42", Decimal("189.00"), stock={"HQ": 5}, weight=1.5, grams=1500, reorder_point=2
    ),
    # a pre-order: no stock until it is received mid-run (FIFO backorder allocation)
    Product("KBD-MECH", "Mechanical keyboard", Decimal("129.00"), stock={}, weight=2, grams=1100),
    # a limited print: fill-or-kill orders for it get cancelled once it is gone
    Product("PRINT-LTD", "Limited print", Decimal("89.00"), stock={"WH-EAST": 3}, weight=1),
    Product("EBOOK-GUIDE", "Field guide (e-book)", Decimal("9.99"), kind="digital", weight=2, grams=0),
    # links that expire within the run: some customers click too late
    Product("PRESET-PACK", "Photo preset pack", Decimal("14.99"), kind="digital", weight=1.5, grams=0, link_ttl=15),
    Product(
        "COURSE-BUNDLE", "Course bundle (video)", Decimal("79.00"), kind="digital", weight=1, grams=0, max_downloads=3
    ),
)

# Shipped by a dropship supplier straight to the customer, when the template configures one.
DROPSHIP = Product(
    "PLANTER-XL", "Planter, XL (ships from the maker)", Decimal("79.00"), weight=2, grams=5000, dropship=True
)

BY_SKU = {p.sku: p for p in (*PRODUCTS, DROPSHIP)}


def products(*, dropship: bool) -> tuple[Product, ...]:
    """What the shop sells: the dropship SKU only if the stack has a dropship location."""
    return (*PRODUCTS, DROPSHIP) if dropship else PRODUCTS


# Sold by the storefront before the shop's operators put it in the catalog: orders with it get the
# unknown_sku hold until an operator adds it and releases the hold.
UNLISTED = Product("GIFT-WRAP", "Gift wrap", Decimal("4.00"), stock={"HQ": 50}, weight=0)

# Operators receive stock during the run, when this fraction of the orders has been sent.
RESTOCKS: tuple[tuple[float, str, str, int], ...] = (
    (0.45, "KBD-MECH", "WH-EAST", 10),
    (0.60, "LAMP-ARC", "WH-WEST", 8),
    (0.75, "KBD-MECH", "WH-WEST", 8),
    (0.80, "BOOT-TRAIL-42", "HQ", 4),
    (0.95, "LAMP-ARC", "WH-EAST", 6),
)

SCARCE = frozenset({"LAMP-ARC", "BOOT-TRAIL-42", "KBD-MECH", "PRINT-LTD"})


def initial_stock() -> dict[tuple[str, str], int]:
    return {(p.sku, loc): units for p in PRODUCTS for loc, units in p.stock.items()}
