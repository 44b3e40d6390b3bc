-- The label of a line's section as it was when the invoice was drafted (the fallback
-- tenant's customer name on a base subscription invoice), so that a rendered invoice never
-- depends on today's names.
ALTER TABLE invoice_lines ADD COLUMN section_label TEXT NOT NULL DEFAULT '';
