"""The company's vendors and customers: names, cities, habits and true GL accounts.

The first copy of each template keeps its recognisable name; with ``scale`` > 1 further copies
get synthetic names of the same kind, so volume grows without changing the mix.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from autoledger.demo.descriptors import ach_variants, card_variants
from autoledger.demo.model import Counterparty


@dataclass(frozen=True, slots=True)
class VendorHabit:
    """How a vendor charges: ``channel`` card (card account, no bill) or bill (ACH payment of
    an open item from the operating account); ``cadence`` monthly, annual, quarterly or random
    (``per_month`` purchases a month on average); ``amount`` in major units."""

    channel: str
    cadence: str
    amount: int
    per_month: float = 0.0


#: name, category, GL code, habit
VENDOR_TEMPLATES: tuple[tuple[str, str, str, VendorHabit], ...] = (
    ("Harbor Point Properties LLC", "rent", "6100", VendorHabit("bill", "monthly", 6500)),
    ("Pacific Gas and Electric Co.", "utilities", "6110", VendorHabit("bill", "monthly", 640)),
    ("City Water Department", "utilities", "6110", VendorHabit("bill", "monthly", 120)),
    ("Comcast Business", "telephone", "6820", VendorHabit("bill", "monthly", 210)),
    ("Verizon Wireless", "telephone", "6820", VendorHabit("bill", "monthly", 380)),
    ("Adobe Inc.", "saas", "6120", VendorHabit("card", "monthly", 89)),
    ("Slack Technologies LLC", "saas", "6120", VendorHabit("card", "monthly", 262)),
    ("Atlassian Corporation", "saas", "6120", VendorHabit("card", "monthly", 175)),
    ("Google Workspace", "saas", "6120", VendorHabit("card", "monthly", 144)),
    ("Zoom Video Communications Inc.", "saas", "6120", VendorHabit("card", "monthly", 65)),
    ("GitHub Inc.", "saas", "6120", VendorHabit("card", "monthly", 231)),
    ("Amazon Web Services", "saas", "6120", VendorHabit("card", "monthly", 1850)),
    ("Dropbox Inc.", "saas", "6120", VendorHabit("card", "annual", 1440)),
    ("Intuit Inc.", "saas", "6120", VendorHabit("card", "annual", 900)),
    ("Gusto Inc.", "payroll", "6220", VendorHabit("card", "monthly", 180)),
    ("Northwind Dev Contracting LLC", "contractors", "6300", VendorHabit("bill", "monthly", 4200)),
    ("Maria Delgado Design", "contractors", "6300", VendorHabit("bill", "monthly", 2100)),
    ("Brightline QA Services", "contractors", "5300", VendorHabit("bill", "monthly", 3300)),
    ("Kessler and Lowe LLP", "legal", "6310", VendorHabit("bill", "quarterly", 2800)),
    ("Summit CPA Group", "accounting", "6310", VendorHabit("bill", "quarterly", 1900)),
    ("Hartford Insurance Co.", "insurance", "6600", VendorHabit("bill", "monthly", 420)),
    ("Hiscox Ltd", "insurance", "6600", VendorHabit("bill", "annual", 2400)),
    ("Uline Inc.", "cogs", "5100", VendorHabit("bill", "monthly", 3800)),
    ("Shenzhen Brightway Electronics Ltd", "cogs", "5100", VendorHabit("bill", "monthly", 9200)),
    ("United Parcel Service", "shipping", "5200", VendorHabit("card", "random", 85, 6)),
    ("FedEx Corporation", "shipping", "5200", VendorHabit("card", "random", 110, 3)),
    ("United Airlines", "travel", "6400", VendorHabit("card", "random", 420, 1)),
    ("Delta Air Lines", "travel", "6400", VendorHabit("card", "random", 380, 0.6)),
    ("Marriott Hotels", "travel", "6400", VendorHabit("card", "random", 260, 0.8)),
    ("Uber Technologies", "travel", "6400", VendorHabit("card", "random", 32, 5)),
    ("Blue Bottle Coffee Inc.", "meals", "6410", VendorHabit("card", "random", 18, 8)),
    ("Sweetgreen", "meals", "6410", VendorHabit("card", "random", 42, 5)),
    ("Tartine Bakery", "meals", "6410", VendorHabit("card", "random", 27, 4)),
    ("DoorDash Inc.", "meals", "6410", VendorHabit("card", "random", 64, 4)),
    ("Staples Inc.", "office", "6500", VendorHabit("card", "random", 96, 2)),
    ("Amazon Marketplace", "office", "6500", VendorHabit("card", "random", 74, 5)),
    ("Office Depot", "office", "6500", VendorHabit("card", "random", 58, 1)),
    ("Google Ads", "advertising", "6700", VendorHabit("card", "monthly", 1500)),
    ("Meta Platforms Inc.", "advertising", "6700", VendorHabit("card", "monthly", 900)),
    ("Shell Oil", "vehicle", "6890", VendorHabit("card", "random", 61, 3)),
    ("Chevron", "vehicle", "6890", VendorHabit("card", "random", 55, 2)),
    ("Bay Area Plumbing Co.", "repairs", "6830", VendorHabit("card", "random", 340, 0.3)),
    ("Apple Store", "equipment", "1520", VendorHabit("card", "random", 1900, 0.15)),
    ("Secretary of State", "licenses", "6850", VendorHabit("card", "annual", 800)),
)

_CITIES = (
    ("San Francisco", "CA"),
    ("Oakland", "CA"),
    ("San Jose", "CA"),
    ("Seattle", "WA"),
    ("Portland", "OR"),
    ("Austin", "TX"),
    ("Denver", "CO"),
    ("New York", "NY"),
    ("Chicago", "IL"),
    ("Boston", "MA"),
)
_WORDS = (
    "Blue",
    "Harbor",
    "Granite",
    "Cedar",
    "Summit",
    "Lumen",
    "Atlas",
    "Meridian",
    "Copper",
    "Willow",
    "North",
    "Vertex",
    "Silver",
    "Pioneer",
    "Juniper",
    "Orchid",
    "Beacon",
    "Falcon",
    "Redwood",
    "Sterling",
    "Quarry",
    "Aspen",
    "Coral",
    "Nimbus",
    "Polar",
    "Tidal",
    "Ember",
)
_NOUNS = (
    "Labs",
    "Works",
    "Systems",
    "Partners",
    "Studio",
    "Analytics",
    "Logistics",
    "Health",
    "Robotics",
    "Foods",
    "Media",
    "Dynamics",
    "Retail",
    "Capital",
    "Energy",
    "Software",
)
_FORMS = ("Inc.", "LLC", "Corp", "Ltd", "Co.")


def _synthetic_name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = (
            f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {rng.choice(_NOUNS)} {rng.choice(_FORMS)}"
        )
        if name not in used:
            used.add(name)
            return name


def build_vendors(
    rng: random.Random, scale: int, currency: str, names: Callable[[], str] | None = None
) -> list[tuple[Counterparty, VendorHabit]]:
    """``len(VENDOR_TEMPLATES) * scale`` vendors with their habits (named by ``names``
    instead of the templates and the word lists, when given)."""
    used: set[str] = {t[0] for t in VENDOR_TEMPLATES}
    vendors: list[tuple[Counterparty, VendorHabit]] = []
    for copy in range(scale):
        for name, category, gl, habit in VENDOR_TEMPLATES:
            if names is not None:
                real = names()
            else:
                real = name if copy == 0 else _synthetic_name(rng, used)
            city, state = rng.choice(_CITIES)
            if habit.channel == "card":
                descriptors = card_variants(real, city, state, rng)
            else:
                descriptors = ach_variants(real, rng, incoming=False)
            number = len(vendors) + 1
            vendors.append(
                (
                    Counterparty(
                        id=f"V{number:05d}",
                        role="vendor",
                        name=real,
                        category=category,
                        gl_account=gl,
                        city=city,
                        currency=currency,
                        descriptors=descriptors,
                    ),
                    habit,
                )
            )
    return vendors


@dataclass(frozen=True, slots=True)
class CustomerHabit:
    """How a customer is invoiced and pays.

    ``delay`` is the days after the due date it usually pays (negative: early); ``never`` the
    chance an invoice is never paid, ``partial`` that it is paid in instalments, ``batches``
    that the customer settles all its open invoices in one payment.
    """

    monthly_amount: int  # major units
    terms: int  # net days
    delay: int
    never: float
    partial: float
    batches: bool
    foreign: bool


def build_customers(
    rng: random.Random,
    scale: int,
    currency: str,
    foreign_currency: str,
    names: Callable[[], str] | None = None,
) -> list[tuple[Counterparty, CustomerHabit]]:
    """``32 * scale`` customers; a sixth of them invoiced in the foreign currency."""
    used: set[str] = set()
    customers: list[tuple[Counterparty, CustomerHabit]] = []
    for number in range(1, 32 * scale + 1):
        name = names() if names is not None else _synthetic_name(rng, used)
        city, _ = rng.choice(_CITIES)
        foreign = number % 6 == 0
        profile = rng.random()
        delay = (
            rng.randint(-10, -2)
            if profile < 0.15
            else rng.randint(-1, 3)
            if profile < 0.35
            else rng.randint(5, 45)
        )
        habit = CustomerHabit(
            monthly_amount=rng.choice((800, 1500, 2400, 3600, 5200, 7500, 12000)),
            terms=rng.choice((15, 30, 30, 30, 45, 60)),
            delay=delay,
            never=0.25 if number % 11 == 0 else 0.02,
            partial=0.35 if number % 7 == 0 else 0.03,
            batches=number % 5 == 0,
            foreign=foreign,
        )
        customers.append(
            (
                Counterparty(
                    id=f"C{number:05d}",
                    role="customer",
                    name=name,
                    category="subscription" if number % 3 == 0 else "services",
                    gl_account="4300" if number % 3 == 0 else "4200",
                    city=city,
                    currency=foreign_currency if foreign else currency,
                    descriptors=ach_variants(name, rng, incoming=True),
                ),
                habit,
            )
        )
    return customers
