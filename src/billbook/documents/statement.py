"""The monthly statement as a PDF: the summary that reconciles, then charges by model."""

from __future__ import annotations

from billbook.documents.page import FAMILY, HEAD, TOTAL, Document, Issuer
from billbook.ledger.statements import Statement
from billbook.money import document_usd
from billbook.times import MS_PER_DAY, day_to_date, ms_to_iso

def _by_model(doc: Document, statement: Statement) -> None:
    doc.heading("Charges by model", 12)
    if not statement.by_model:
        doc.note("No charges or refunds are dated in this month.")
        return
    doc.set_font(FAMILY, "", 8.5)
    widths = (54, 17, 26, 17, 30, 30)
    align = ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
    with doc.table(col_widths=widths, text_align=align, headings_style=HEAD, line_height=5.5,
                   borders_layout="HORIZONTAL_LINES", repeat_headings=1) as table:
        table.row(("Model", "Charges", "Charged USD", "Refunds", "Refunded USD", "Net USD"))
        for m in statement.by_model:
            table.row((m.model_uuid or "(none)", str(m.charge_count), document_usd(m.charges), str(m.refund_count),
                       document_usd(m.refunds), document_usd(m.net)))
        table.row(("Total", "", document_usd(statement.charges), "", document_usd(statement.refunds),
                   document_usd(statement.net_charges)), style=TOTAL)


def statement_pdf(statement: Statement, issuer: Issuer) -> bytes:
    s = statement
    doc = Document(f"Statement {s.month_text}", issuer, [s.account_name, *(m.model_uuid for m in s.by_model)])
    doc.heading(f"Statement for {s.month_text}")
    last_day = day_to_date(s.end_ms // MS_PER_DAY - 1)
    facts = [
        ("Account", s.account_name),
        ("Account id", str(s.account_id)),
        ("Period (UTC)", f"{day_to_date(s.start_ms // MS_PER_DAY)} to {last_day}"),
        ("Issued", ms_to_iso(s.generated_at)),
        ("Records", str(s.record_count)),
    ]
    doc.facts(facts)
    if s.is_open:
        doc.ln(1)
        doc.set_font(FAMILY, "B", 10)
        doc.multi_cell(0, 5.5, "This month is still open: its figures can change until it ends.")
    doc.ln(4)
    rows = [
        ("Opening balance", document_usd(s.opening)),
        (f"Recharges ({s.recharge_count})", document_usd(s.recharges)),
        (f"Adjustments ({s.adjustment_count})", document_usd(s.adjustments)),
        ("Charges", document_usd(-s.charges)),
        ("Refunds", document_usd(s.refunds)),
        ("Charges net of refunds", document_usd(-s.net_charges)),
        ("Closing balance", document_usd(s.closing)),
    ]
    doc.amounts(rows, bold={0, 6})
    doc.ln(2)
    doc.note("Opening balance + recharges + adjustments - charges + refunds = closing balance. "
             "A record belongs to the month of its date (UTC); a record dated in this month but written later "
             "changes this statement and the opening balance of the months after it.")
    doc.ln(5)
    _by_model(doc, s)
    return doc.output_bytes()
