"""The receipt of one recharge as a PDF."""

from __future__ import annotations

from billbook.documents.page import Document, Issuer
from billbook.ledger.statements import Receipt
from billbook.money import document_usd
from billbook.times import ms_to_iso


def receipt_pdf(receipt: Receipt, issuer: Issuer) -> bytes:
    r = receipt.record
    doc = Document(f"Receipt {r.uuid}", issuer, [receipt.account_name, r.reference or ""])
    doc.heading("Receipt")
    facts = [
        ("Receipt number", r.uuid),
        ("Date", ms_to_iso(r.created_at)),
        ("Account", receipt.account_name),
        ("Account id", str(receipt.account_id)),
    ]
    if r.reference:
        facts.append(("Reference", r.reference))
    doc.facts(facts)
    doc.ln(4)
    doc.amounts([("Recharge received", document_usd(r.price)),
                       ("Balance after this recharge", document_usd(r.balance_after))], bold={0})
    doc.ln(2)
    doc.note("Funds added to the prepaid balance of the account above, in US dollars.")
    return doc.output_bytes()
