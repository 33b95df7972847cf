"""Charts of accounts as CSV: parse and validate a chart, and load the bundled templates.

A chart is a forest of accounts. :func:`parse_chart_csv` reports every problem in the file
at once (by line and column) so that a user fixes a spreadsheet in one pass, and returns
rows in an order where each parent precedes its children, so that they can be created in
that order.
"""

import csv
import heapq
import io
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from autoledger.kit.errors import FieldError, InvalidRequest
from autoledger.ledger.types import AccountType

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-_]{0,31}$"
MAX_NAME_LENGTH = 200
REQUIRED_COLUMNS = ("code", "name", "type")
OPTIONAL_COLUMNS = ("parent_code",)

_CODE = re.compile(CODE_PATTERN, re.ASCII)
_TYPES = ", ".join(t.value for t in AccountType)


class ChartError(InvalidRequest):
    code = "ledger.invalid_chart"
    title = "Invalid chart of accounts"


class UnknownChartTemplate(InvalidRequest):
    code = "ledger.unknown_chart_template"
    title = "Unknown chart of accounts template"


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One account of a chart; ``line`` is where it starts in the source file (1-based)."""

    line: int
    code: str
    name: str
    type: AccountType
    parent_code: str | None


def parse_chart_csv(text: str) -> list[ChartRow]:
    """The accounts of a CSV chart with header ``code,name,type[,parent_code]``.

    Cells are trimmed, ``type`` is case-insensitive, blank rows are skipped. What holds for
    the result: codes are unique, every parent is in the file and has the same type as its
    children (a revenue account cannot roll up into an asset), no parent chain loops, and
    every parent comes before its children; otherwise file order is kept.

    Raises :class:`ChartError` listing every problem found, in line order.
    """
    # newline="" lets the csv module see quoted line breaks; Excel prefixes a BOM.
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    problems: list[_Problem] = []
    drafts: list[_Draft] = []
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            expected = ",".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
            message = f"the file is empty; expected a header row {expected}"
            raise _chart_error([(1, FieldError(loc="line 1", message=message))])
        columns = _parse_header(header, reader.line_num, problems)
        if problems:
            raise _chart_error(problems)
        end_of_previous = reader.line_num
        for record in reader:
            line, end_of_previous = end_of_previous + 1, reader.line_num
            draft = _parse_row(record, columns, line, problems)
            if draft is not None:
                drafts.append(draft)
    except csv.Error as exc:
        message = f"unreadable CSV: {exc}"
        problems.append(
            (reader.line_num, FieldError(loc=f"line {reader.line_num}", message=message))
        )
        raise _chart_error(problems) from exc
    _check_links(drafts, problems)
    if problems:
        raise _chart_error(problems)
    return _parents_first([draft.row for draft in drafts if draft.row is not None])


def available_templates() -> list[str]:
    """Names of the bundled chart templates, e.g. ``small_business``."""
    return sorted(
        entry.name.removesuffix(".csv")
        for entry in _templates().iterdir()
        if entry.is_file() and entry.name.endswith(".csv")
    )


def load_template(name: str) -> list[ChartRow]:
    """The bundled chart template ``name``, parsed as :func:`parse_chart_csv` does."""
    available = available_templates()
    # Checked against the listing, never joined blindly: ``name`` may come from a request.
    if name not in available:
        raise UnknownChartTemplate(
            f"unknown chart template {name!r}; available: {', '.join(available)}",
            errors=[FieldError(loc="template", message=f"unknown chart template {name!r}")],
            extra={"available": available},
        )
    return parse_chart_csv(_templates().joinpath(f"{name}.csv").read_text(encoding="utf-8"))


def _templates() -> Traversable:
    # charts/ is data, not a package, so it is reached through its parent package.
    return files("autoledger.ledger").joinpath("charts")


# A problem and the line it is on, for reporting in line order.
_Problem = tuple[int, FieldError]


@dataclass(frozen=True, slots=True)
class _Draft:
    """A row as read, kept even when some cells are invalid so that its links still count.

    ``code`` is None when the cell is blank or malformed (a problem already reported).
    """

    line: int
    raw_code: str
    code: str | None
    type: AccountType | None
    parent_code: str | None
    row: ChartRow | None


def _parse_header(header: list[str], line: int, problems: list[_Problem]) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    for index, column in enumerate(columns):
        if column not in known:
            loc = f"line {line}.{column or f'column {index + 1}'}"
            message = f"unknown column; expected {', '.join(known)}"
            problems.append((line, FieldError(loc=loc, message=message)))
        elif columns.index(column) != index:
            problems.append(
                (line, FieldError(loc=f"line {line}.{column}", message="duplicate column"))
            )
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            problems.append(
                (line, FieldError(loc=f"line {line}.{column}", message="missing column"))
            )
    return columns


def _parse_row(
    record: list[str], columns: list[str], line: int, problems: list[_Problem]
) -> _Draft | None:
    """The row at ``line``, or None when it is blank; problems in its cells are appended."""
    cells = [cell.strip() for cell in record]
    if not any(cells):
        return None
    found = len(problems)

    def problem(column: str, message: str) -> None:
        problems.append((line, FieldError(loc=f"line {line}.{column}", message=message)))

    # Trailing empty cells (a spreadsheet's trailing commas) carry nothing and are ignored.
    if any(cells[len(columns) :]):
        message = f"has {len(cells)} cells but the header has {len(columns)} columns"
        problems.append((line, FieldError(loc=f"line {line}", message=message)))
    # A short row (a spreadsheet dropping a trailing empty parent_code) reads as blanks.
    values = dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=False))
    raw_code, name, kind = values["code"], values["name"], values["type"]
    code = raw_code if _CODE.fullmatch(raw_code) else None
    if not raw_code:
        problem("code", "is required")
    elif code is None:
        problem(
            "code",
            f"{raw_code!r} must be 1-32 letters, digits, '.', '-' or '_', "
            "starting with a letter or digit",
        )
    if not name:
        problem("name", "is required")
    elif len(name) > MAX_NAME_LENGTH:
        problem("name", f"is longer than {MAX_NAME_LENGTH} characters")
    elif "\x00" in name:  # PostgreSQL cannot store NUL in text: refused on every backend
        problem("name", "must not contain NUL (U+0000)")
    account_type: AccountType | None = None
    if not kind:
        problem("type", "is required")
    else:
        try:
            account_type = AccountType(kind.lower())
        except ValueError:
            problem("type", f"{kind!r} is not one of {_TYPES}")
    parent_code = values.get("parent_code") or None
    row = None
    if code is not None and account_type is not None and len(problems) == found:
        row = ChartRow(line=line, code=code, name=name, type=account_type, parent_code=parent_code)
    return _Draft(
        line=line,
        raw_code=raw_code,
        code=code,
        type=account_type,
        parent_code=parent_code,
        row=row,
    )


def _check_links(drafts: list[_Draft], problems: list[_Problem]) -> None:
    """Problems between rows: duplicate codes, unknown or mismatched parents, cycles."""
    by_code: dict[str, _Draft] = {}
    malformed = {draft.raw_code for draft in drafts if draft.code is None}
    for draft in drafts:
        if draft.code is None:
            continue
        first = by_code.setdefault(draft.code, draft)
        if first is not draft:
            message = f"duplicate code {draft.code!r}, first on line {first.line}"
            problems.append(
                (draft.line, FieldError(loc=f"line {draft.line}.code", message=message))
            )
    for draft in drafts:
        # A parent whose own code is malformed is reported once, on its own line.
        if draft.parent_code is None or draft.parent_code in malformed:
            continue
        loc = f"line {draft.line}.parent_code"
        parent = by_code.get(draft.parent_code)
        if parent is None:
            message = f"unknown parent {draft.parent_code!r}: no account has that code"
            problems.append((draft.line, FieldError(loc=loc, message=message)))
        elif parent.type is not None and draft.type is not None and parent.type is not draft.type:
            message = (
                f"parent {parent.code!r} (line {parent.line}) is {parent.type.value}, "
                f"not {draft.type.value}"
            )
            problems.append((draft.line, FieldError(loc=loc, message=message)))
    problems.extend(_cycles(by_code))
    problems.sort(key=lambda problem: problem[0])


def _cycles(by_code: dict[str, _Draft]) -> list[_Problem]:
    """One problem per loop of parent links, reported at the loop's first line."""
    found = []
    # Each row has at most one parent, so a walk up the parents either ends at a root, meets
    # a row an earlier walk finished (no loop there), or meets its own trail: a loop.
    finished: set[str] = set()
    for start in by_code.values():
        trail: list[_Draft] = []
        on_trail: set[str] = set()
        draft: _Draft | None = start
        while draft is not None and draft.code is not None and draft.code not in finished:
            if draft.code in on_trail:
                loop = trail[trail.index(draft) :]
                first = min(loop, key=lambda d: d.line)
                at = loop.index(first)
                path = [str(d.code) for d in loop[at:] + loop[:at]] + [str(first.code)]
                message = f"parent links form a cycle: {' → '.join(path)}"
                found.append(
                    (first.line, FieldError(loc=f"line {first.line}.parent_code", message=message))
                )
                break
            trail.append(draft)
            on_trail.add(draft.code)
            draft = by_code.get(draft.parent_code) if draft.parent_code else None
        finished |= on_trail
    return found


def _parents_first(rows: list[ChartRow]) -> list[ChartRow]:
    """``rows`` (checked: unique codes, known parents, no loop) in parent-first order.

    Of all such orders, the one smallest by line: a row waits only for its parent, so a file
    already in parent-first order is unchanged.
    """
    children: dict[str, list[int]] = {}
    ready: list[int] = []
    for index, row in enumerate(rows):
        if row.parent_code is None:
            ready.append(index)
        else:
            children.setdefault(row.parent_code, []).append(index)
    ordered = []
    while ready:
        row = rows[heapq.heappop(ready)]
        ordered.append(row)
        for child in children.get(row.code, []):
            heapq.heappush(ready, child)
    return ordered


def _chart_error(problems: list[_Problem]) -> ChartError:
    errors = [error for _, error in problems]
    count = f"{len(errors)} problem{'s' if len(errors) != 1 else ''}"
    return ChartError(
        f"the chart has {count}; first: {errors[0].loc}: {errors[0].message}", errors=errors
    )
