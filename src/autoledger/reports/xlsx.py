"""Reports as XLSX workbooks, written by XlsxWriter. Amount cells are numbers (formatted at the asset's
scale) so that a spreadsheet can add them; the JSON and CSV keep the exact decimal strings."""

import io
from decimal import Decimal, InvalidOperation

import xlsxwriter  # type: ignore[import-untyped]

from autoledger.reports.exports import Table

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _number(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def to_xlsx(table: Table) -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet(table.title[:31])
    bold = workbook.add_format({"bold": True})
    first_amount = len(table.headers) - table.amount_columns
    formats: dict[tuple[int, bool], object] = {}

    def amount_format(scale: int, strong: bool) -> object:
        key = (scale, strong)
        if key not in formats:
            pattern = "#,##0" + ("." + "0" * scale if scale else "")
            formats[key] = workbook.add_format({"num_format": pattern, "bold": strong})
        return formats[key]

    sheet.write_row(0, 0, [table.title], bold)
    sheet.write_row(1, 0, [table.subtitle])
    sheet.write_row(3, 0, table.headers, bold)
    for r, row in enumerate(table.rows, start=4):
        strong = row.kind in ("heading", "total")
        for c, value in enumerate(row.cells):
            number = _number(value) if c >= first_amount else None
            if number is None:
                text = ("  " * row.depth + value) if c == 2 else value
                sheet.write_string(r, c, text, bold if strong else None)
            else:
                scale = max(0, -int(number.as_tuple().exponent))
                # A spreadsheet number is a binary double: the nearest one to the decimal,
                # which reads back as the same decimal up to 15 significant digits.
                sheet.write_number(r, c, float(number), amount_format(scale, strong))
    sheet.set_column(0, 1, 12)
    sheet.set_column(2, 2, 40)
    sheet.set_column(first_amount, len(table.headers) - 1, 16)
    workbook.close()
    return out.getvalue()
