"""Reports as downloads: one tabular shape (:class:`Table`) built from the API schemas, then
written as CSV (stdlib ``csv``), a printable HTML page (stdlib ``string.Template``, every
value escaped with ``html.escape``) or XLSX (``reports.xlsx``, the only module that needs a
spreadsheet library). Amounts stay the API's decimal strings."""

import csv
import html
import io
from dataclasses import dataclass, field
from string import Template

from autoledger.reports import schemas

AnyReport = schemas.StatementReportOut | schemas.GeneralLedgerOut | schemas.AgingOut


@dataclass(frozen=True, slots=True)
class Row:
    kind: str  # heading | account | item | total | line
    cells: list[str]
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    subtitle: str
    headers: list[str]
    amount_columns: int
    """How many trailing columns hold amounts (right-aligned, numeric in XLSX)."""
    rows: list[Row] = field(default_factory=list)


def _statement(report: schemas.StatementReportOut) -> Table:
    table = Table(
        report.title,
        f"{report.ledger_name} · {report.asset}"
        f"{' (translated: ' + report.translation.policy + ')' if report.translation else ''}"
        f" · {report.start}..{report.end}",
        ["section", "code", "account", *[c.label for c in report.columns]],
        len(report.columns),
    )
    for section in report.sections:
        table.rows.append(
            Row("heading", [section.key, "", section.title] + [""] * len(report.columns))
        )
        for line in section.lines:
            table.rows.append(
                Row(
                    line.kind, [section.key, line.code or "", line.label, *line.amounts], line.depth
                )
            )
        table.rows.append(
            Row("total", [section.key, "", f"Total {section.title.lower()}", *section.total])
        )
    for line in report.totals:
        table.rows.append(Row(line.kind, ["", "", line.label, *line.amounts]))
    return table


def _general_ledger(report: schemas.GeneralLedgerOut) -> Table:
    table = Table(
        "General ledger",
        f"{report.ledger_name} · {report.asset} · {report.start}..{report.end}",
        ["code", "account", "date", "entry", "description", "debit", "credit", "balance"],
        3,
    )
    for account in report.accounts:
        table.rows.append(
            Row(
                "heading",
                [
                    account.code,
                    account.name,
                    "",
                    "",
                    "Opening balance",
                    "",
                    "",
                    account.opening_balance,
                ],
            )
        )
        for line in account.lines:
            debit, credit = (line.amount, "") if line.direction == "debit" else ("", line.amount)
            table.rows.append(
                Row(
                    "line",
                    [
                        account.code,
                        account.name,
                        line.effective_date.isoformat(),
                        str(line.entry_id),
                        line.description,
                        debit,
                        credit,
                        line.running_balance,
                    ],
                )
            )
        table.rows.append(
            Row(
                "total",
                [
                    account.code,
                    account.name,
                    "",
                    "",
                    "Closing balance",
                    "",
                    "",
                    account.closing_balance,
                ],
            )
        )
    return table


def _aging(report: schemas.AgingOut) -> Table:
    table = Table(
        f"Aged {report.side}s",
        f"{report.ledger_name} · {report.asset} · as of {report.as_of}",
        ["counterparty", "items", *report.buckets, "total"],
        len(report.buckets) + 1,
    )
    for row in report.rows:
        table.rows.append(
            Row("account", [row.counterparty, str(row.items), *row.amounts, row.total])
        )
    table.rows.append(Row("total", ["Total", "", *report.totals, report.total]))
    return table


def table_of(report: AnyReport) -> Table:
    if isinstance(report, schemas.GeneralLedgerOut):
        return _general_ledger(report)
    if isinstance(report, schemas.AgingOut):
        return _aging(report)
    return _statement(report)


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(row.cells)
    return out.getvalue().encode("utf-8")


_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>
  body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #111; }
  h1 { font-size: 1.4em; margin: 0; }
  p.sub { color: #555; margin: .2em 0 1.2em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { padding: .25em .6em; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
  th { border-bottom: 2px solid #111; font-weight: 600; }
  td.amount, th.amount { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  tr.heading td { font-weight: 600; padding-top: 1em; border-bottom: none; }
  tr.total td { font-weight: 600; border-top: 1px solid #111; }
  @media print { body { margin: 0; } tr { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>$title</h1>
<p class="sub">$subtitle</p>
<table>
<thead><tr>$headers</tr></thead>
<tbody>
$rows
</tbody>
</table>
</body>
</html>
""")


def to_html(table: Table) -> bytes:
    first_amount = len(table.headers) - table.amount_columns

    def cell(i: int, value: str, tag: str, depth: int = 0) -> str:
        css = ' class="amount"' if i >= first_amount else ""
        style = (
            f' style="padding-left:{0.6 + depth * 1.2:.1f}em"' if depth and i < first_amount else ""
        )
        return f"<{tag}{css}{style}>{html.escape(value)}</{tag}>"

    headers = "".join(cell(i, h, "th") for i, h in enumerate(table.headers))
    rows = "\n".join(
        f'<tr class="{html.escape(row.kind)}">'
        + "".join(cell(i, v, "td", row.depth) for i, v in enumerate(row.cells))
        + "</tr>"
        for row in table.rows
    )
    page = _PAGE.substitute(
        title=html.escape(table.title),
        subtitle=html.escape(table.subtitle),
        headers=headers,
        rows=rows,
    )
    return page.encode("utf-8")
