-- RFC 8555 7.1.6: a pending order becomes ready when its last authorization
-- becomes valid. Counting the order's authorizations that are not valid yet
-- lets one statement make that change (acme_pg_chall_result): the order row
-- is the point where two authorizations validated at once meet, and the
-- later one re-reads the count the earlier one left. NULL: an order made
-- before this column, whose count is taken from its authorizations.
ALTER TABLE orders ADD COLUMN authz_pending integer;

UPDATE orders o SET authz_pending = (SELECT count(*)
    FROM order_authorizations oa JOIN authorizations a
    ON a.id = oa.authorization_id
    WHERE oa.order_id = o.id AND a.status <> 'valid')
WHERE o.status = 'pending';
