-- The price-sheet screens' lookups: which customers have an own sheet (few), and whether a
-- meter has usage in a window (the unpriced-meter check asks per meter, not per month).
CREATE INDEX customer_terms_own_sheet ON customer_terms (price_sheet_id) WHERE price_sheet_id IS NOT NULL;
CREATE INDEX usage_daily_meter ON usage_daily (meter_id, usage_on);
