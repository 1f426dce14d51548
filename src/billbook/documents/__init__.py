"""Printed documents: monthly statements and recharge receipts as PDF (fpdf2; see
docs/decisions/0026-statements-and-receipts.md). Draws what ``ledger.statements`` computed; no
figure is worked out here."""
