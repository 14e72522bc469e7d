-- How a webhook's and an inbound webhook's templates render: 'lax' (what is undefined is
-- empty, as before) or 'strict' (an undefined variable or a filter on the wrong type fails
-- the render). Existing ones stay lax.
ALTER TABLE webhooks ADD COLUMN template_mode TEXT NOT NULL DEFAULT 'lax';
ALTER TABLE inbound_webhooks ADD COLUMN template_mode TEXT NOT NULL DEFAULT 'lax';
