-- What an invoice's bill-to needs beyond name and address: the customer's tax id (VAT
-- number), and its payment terms (days from issue to due; NULL: the installation's
-- default, STACKBILL_PAYMENT_TERMS_DAYS).
ALTER TABLE customers ADD COLUMN tax_id TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN payment_terms_days BIGINT CHECK (payment_terms_days BETWEEN 0 AND 365);
