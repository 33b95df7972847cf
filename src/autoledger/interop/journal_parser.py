"""A reader for the hledger / ledger-cli journal subset that carries balances.

Read: transactions (date, status, code, description, comments and tags), postings with
amounts (commodity before or after the number, thousands separators), ``@`` / ``@@`` prices,
``{}`` / ``{{}}`` costs (ledger-cli), balance assertions ``=`` ``==`` ``=*`` ``==*``, one
elided amount per transaction, and the directives ``account``, ``commodity`` and ``P``.

Everything else is reported per line. Directives that only describe (``payee``, ``tag``,
``note``-like comments) are *ignored*; directives that would change what the postings mean
if dropped (``include``, ``alias``, ``apply account``, ``D``, ``Y``, automated ``=`` and
periodic ``~`` transactions, virtual postings) are *errors*, so an import never silently
books something other than what the file says.

Pure: text in, :class:`~autoledger.interop.model.Journal` out; no I/O.
"""

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal, InvalidOperation

from autoledger.interop.model import (
    Amount,
    Journal,
    JournalAccount,
    JournalCommodity,
    JournalPosting,
    JournalPrice,
    JournalTransaction,
    Problem,
    Severity,
)

#: Currency signs read as their ISO code, so that ``$10`` books USD.
SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}

_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_HEADER = re.compile(
    r"(?P<date>\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?:=(?P<date2>\S+))?"
    r"(?:\s+(?P<status>[*!]))?(?:\s+\((?P<code>[^)]*)\))?\s*(?P<rest>.*)$"
)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+")
_QUOTED = re.compile(r'"([^"]+)"')
_BARE_SYMBOL = re.compile(r"[^\s\d\-+.,@;{}()\[\]=*\"]+")
_TAG_PAIR = re.compile(r"([^\s,:]+):\s*([^,]*)")
_BARE_TAGS = re.compile(r"(?:^|\s):((?:[^\s:]+:)+)")

_IGNORED_DIRECTIVES = {"payee", "tag", "end", "N"}
_UNSUPPORTED_DIRECTIVES = {
    "include": "include: import the included file on its own, or concatenate the files",
    "alias": "account aliases rename accounts; apply them to the file first",
    "apply": "apply account/tag changes every posting below it",
    "D": "a default commodity changes every commodity-less amount",
    "Y": "a default year changes every date without a year",
    "year": "a default year changes every date without a year",
    "decimal-mark": "only '.' is read as the decimal mark",
    "bucket": "a default balancing account changes every transaction",
    "A": "a default balancing account changes every transaction",
    "C": "commodity conversions change every amount",
    "define": "value expressions are not read",
    "assert": "value expressions are not read",
    "check": "value expressions are not read",
    "expr": "value expressions are not read",
    "python": "embedded code is not read",
    "eval": "value expressions are not read",
}


class _LineError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_journal(text: str, source: str = "") -> Journal:
    """Read a hledger / ledger-cli journal; every problem lands in ``journal.problems``."""
    journal = Journal(source=source)
    lines = text.removeprefix("\ufeff").splitlines()
    index = 0
    in_comment_block = False
    while index < len(lines):
        number, raw = index + 1, lines[index].rstrip()
        index += 1
        if in_comment_block:
            if raw.strip() == "end comment":
                in_comment_block = False
            continue
        if not raw.strip() or raw[0] in ";#%|*":
            continue
        if raw.strip() == "comment" and not raw[0].isspace():
            in_comment_block = True
            continue
        if raw[0].isspace():
            journal.problems.append(
                Problem(number, Severity.ERROR, "an indented line outside a transaction")
            )
            continue
        block: list[tuple[int, str]] = []
        while index < len(lines) and lines[index][:1].isspace():
            if lines[index].strip():
                block.append((index + 1, lines[index]))
            index += 1
        try:
            _directive(journal, number, raw, block)
        except _LineError as exc:
            journal.problems.append(Problem(number, Severity.ERROR, exc.message))
    return journal


def _directive(journal: Journal, number: int, raw: str, block: list[tuple[int, str]]) -> None:
    if raw[0].isdigit():
        _transaction(journal, number, raw, block)
        return
    word, _, rest = raw.partition(" ")
    rest = _strip_comment(rest).strip()
    if word == "account":
        name = re.split(r"\s{2,}|\t", rest)[0].strip()
        if not name:
            raise _LineError("account: no account name")
        journal.accounts.setdefault(name, JournalAccount(number, name))
    elif word == "commodity":
        _commodity(journal, number, rest, block)
    elif word == "P":
        parts = rest.split(None, 2)
        if len(parts) < 3:
            raise _LineError("P: expected 'P DATE COMMODITY PRICE'")
        symbol = _symbol(parts[1].strip('"'))
        journal.prices.append(JournalPrice(number, _date(parts[0]), symbol, _amount(parts[2])))
    elif word in _IGNORED_DIRECTIVES:
        journal.problems.append(
            Problem(number, Severity.IGNORED, f"{word}: describes, does not book", word)
        )
    elif word in _UNSUPPORTED_DIRECTIVES or word[:1] in "=~":
        reason = _UNSUPPORTED_DIRECTIVES.get(word) or (
            "automated transactions add postings to other transactions"
            if word[:1] == "="
            else "periodic transactions are budgets or forecasts, not bookings"
        )
        raise _LineError(f"unsupported directive {word!r}: {reason}")
    else:
        raise _LineError(f"unsupported directive {word!r}")


def _commodity(journal: Journal, number: int, rest: str, block: list[tuple[int, str]]) -> None:
    if not rest:
        raise _LineError("commodity: no commodity")
    scale: int | None = None
    if any(ch.isdigit() for ch in rest):
        sample = _amount(rest)
        symbol, scale = sample.commodity, _decimals(sample.number)
    else:
        symbol = _symbol(rest.strip('"'))
    for sub_number, sub in block:
        key, _, value = sub.strip().partition(" ")
        if key == "format" and any(ch.isdigit() for ch in value):
            scale = _decimals(_amount(_strip_comment(value).strip()).number)
        elif not key.startswith(";"):
            journal.problems.append(
                Problem(sub_number, Severity.IGNORED, f"commodity {key}: not stored", "commodity")
            )
    journal.commodities[symbol] = JournalCommodity(number, symbol, scale)


def _transaction(journal: Journal, number: int, raw: str, block: list[tuple[int, str]]) -> None:
    header, comment = _split_comment(raw)
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        raise _LineError(f"not a transaction header: {header.strip()!r}")
    when = _date(match["date"])
    metadata = _tags(comment)
    if match["date2"]:
        metadata["date2"] = match["date2"]
    postings: list[JournalPosting] = []
    failed = False
    for line_number, text in block:
        body, posting_comment = _split_comment(text)
        if not body.strip():
            metadata.update(_tags(posting_comment))
            continue
        try:
            postings.append(_posting(line_number, body))
        except _LineError as exc:
            journal.problems.append(Problem(line_number, Severity.ERROR, exc.message))
            failed = True
    if failed:
        return
    postings = _infer(postings)
    journal.transactions.append(
        JournalTransaction(
            line=number,
            date=when,
            flag=match["status"] or "",
            description=match["rest"].strip(),
            postings=postings,
            code=match["code"] or "",
            metadata=metadata,
        )
    )


def _posting(number: int, body: str) -> JournalPosting:
    text = body.strip()
    if text[:2] in ("* ", "! "):
        text = text[2:].strip()
    parts = re.split(r"\s{2,}|\t", text, maxsplit=1)
    account, rest = parts[0].strip(), parts[1] if len(parts) > 1 else ""
    if account[:1] in "([" and account[-1:] in ")]":
        raise _LineError(f"virtual posting {account}: balances outside double entry")
    rest = rest.strip()
    assertion: Amount | None = None
    inclusive = sole = False
    if "=" in rest:
        rest, _, asserted = rest.partition("=")
        if asserted.startswith("="):
            sole, asserted = True, asserted[1:]
        if asserted.startswith("*"):
            inclusive, asserted = True, asserted[1:]
        if not asserted.strip():
            raise _LineError("a balance assignment (no amount after '='); give the amount")
        assertion = _amount(asserted.strip())
        rest = rest.strip()
    price: Amount | None = None
    total_price = False
    if "@" in rest:
        rest, _, priced = rest.partition("@")
        if priced.startswith("@"):
            total_price, priced = True, priced[1:]
        if "{" in priced:
            raise _LineError("write the cost {..} before the price @")
        price = _amount(priced.strip())
        rest = rest.strip()
    cost: Amount | None = None
    if "{" in rest:
        rest, _, costed = rest.partition("{")
        total_cost = costed.startswith("{")
        costed = costed.lstrip("{")
        inside, _, after = costed.partition("}")
        if after.strip("} "):
            raise _LineError(f"lot annotations after the cost are not read: {after.strip()!r}")
        cost = _amount(inside.strip())
        rest = rest.strip()
        if total_cost:
            units = _amount(rest).number
            cost = Amount(cost.number / abs(units), cost.commodity)
    amount = _amount(rest) if rest else None
    if amount is None and assertion is not None:
        raise _LineError(
            "balance assignments (an amount computed from '=') are not read; write the amount"
        )
    if amount is None and (price or cost):
        raise _LineError("a price or cost needs an amount")
    weight = amount
    if amount is not None and amount.number == 0 and (price or cost):
        raise _LineError("a price or cost on a zero amount")
    if amount is not None and price is not None and total_price:
        # ``@@`` states the total exactly: the weight takes it as written, not re-multiplied.
        if cost is None and price.commodity != amount.commodity:
            weight = Amount(price.number.copy_sign(amount.number), price.commodity)
        price = Amount(_per_unit(price.number, amount.number), price.commodity)
    per_unit = cost or price
    if (
        amount is not None
        and per_unit is not None
        and per_unit.commodity != amount.commodity
        and (cost is not None or not total_price)
    ):
        weight = Amount(amount.number * per_unit.number, per_unit.commodity)
    return JournalPosting(
        line=number,
        account=account,
        amount=amount,
        price=price,
        cost=cost,
        weight=weight,
        assertion=assertion,
        assertion_inclusive=inclusive,
        assertion_sole=sole,
    )


def _infer(postings: list[JournalPosting]) -> list[JournalPosting]:
    """Fill the one elided amount (one posting per commodity left over), and give a
    two-commodity transaction without prices its implied price, as hledger does."""
    elided = [p for p in postings if p.amount is None]
    if len(elided) > 1:
        raise _LineError("more than one posting without an amount")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for p in postings:
        if p.weight is not None:
            sums[p.weight.commodity] += p.weight.number
    open_sums = {c: s for c, s in sums.items() if s != 0}
    if elided:
        target = elided[0]
        out = [p for p in postings if p is not target]
        for commodity, total in open_sums.items():
            amount = Amount(-total, commodity)
            out.append(
                JournalPosting(
                    line=target.line, account=target.account, amount=amount, weight=amount
                )
            )
        return out
    priced = any(p.price or p.cost for p in postings)
    if len(open_sums) == 2 and not priced:
        first, second = list(open_sums)
        in_first = [
            (p, p.amount) for p in postings if p.amount is not None and p.amount.commodity == first
        ]
        if len(in_first) == 1:
            only, units = in_first[0]
            weight = Amount(-open_sums[second], second)
            price = Amount(_per_unit(weight.number, units.number), second)
            return [
                JournalPosting(
                    line=p.line,
                    account=p.account,
                    amount=p.amount,
                    price=price,
                    weight=weight,
                    assertion=p.assertion,
                    assertion_inclusive=p.assertion_inclusive,
                    assertion_sole=p.assertion_sole,
                )
                if p is only
                else p
                for p in postings
            ]
    return postings


def _amount(text: str) -> Amount:
    """``-$1,000.50``, ``$-5``, ``10 EUR``, ``EUR 10``, ``3 "ABC 1"`` → an :class:`Amount`."""
    text = text.strip()
    negative = False
    if text[:1] in "+-" and text[1:2] and not text[1].isdigit() and text[1] != ".":
        negative, text = text[0] == "-", text[1:].strip()
    symbol: str | None = None
    quoted = _QUOTED.match(text)
    if quoted:
        symbol, text = quoted.group(1), text[quoted.end() :].strip()
    elif not (text[:1].isdigit() or text[:1] in "+-."):
        bare = _BARE_SYMBOL.match(text)
        if bare:
            symbol, text = bare.group(0), text[bare.end() :].strip()
    number = _NUMBER.match(text)
    if number is None:
        raise _LineError(f"not an amount: {text!r}")
    remainder = text[number.end() :].strip()
    if symbol is None:
        quoted = _QUOTED.fullmatch(remainder)
        symbol = quoted.group(1) if quoted else remainder
    elif remainder:
        raise _LineError(f"unexpected text after the amount: {remainder!r}")
    if not symbol:
        raise _LineError(f"an amount without a commodity: {number.group(0)!r}")
    if symbol[:1].isdigit() or symbol[:1] in ",.":
        raise _LineError(f"not an amount (only '.' is read as the decimal mark): {text!r}")
    digits = number.group(0).replace(",", "")
    try:
        value = Decimal(digits)
    except InvalidOperation:
        raise _LineError(f"not a number: {number.group(0)!r}") from None
    if negative:
        value = -value
    return Amount(value, _symbol(symbol))


def _per_unit(total: Decimal, units: Decimal) -> Decimal:
    """A per-unit price from a total, for the record (the weight keeps the exact total)."""
    price = abs(total / units)
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        return price.quantize(Decimal("1e-12")).normalize()
    return price


def _symbol(symbol: str) -> str:
    return SYMBOLS.get(symbol, symbol)


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _date(text: str) -> date:
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise _LineError(f"not a date with a year: {text!r}")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise _LineError(f"not a date: {text!r} ({exc})") from None


def _split_comment(text: str) -> tuple[str, str]:
    body, _, comment = text.partition(";")
    return body.rstrip(), comment.strip()


def _strip_comment(text: str) -> str:
    return text.partition(";")[0]


def _tags(comment: str) -> dict[str, str]:
    """hledger tags of a comment: ``key: value`` pairs and ``:a:b:`` bare tags."""
    out: dict[str, str] = {}
    if not comment:
        return out
    bare = [tag for group in _BARE_TAGS.findall(comment) for tag in group.split(":") if tag]
    if bare:
        out["tags"] = ",".join(bare)
    for key, value in _TAG_PAIR.findall(_BARE_TAGS.sub(" ", comment)):
        out[key] = value.strip()
    if not out:
        out["comment"] = comment
    return out
