-- The indexes of pruning the outbox (PruneOutbox): the notifications
-- fanned out, oldest first, and each notification's deliveries, which the
-- pruning asks whether any is left and the foreign key checks on every
-- notification deleted. The deliveries to prune are found by
-- deliveries_created.
CREATE INDEX notifications_fanned_created ON notifications (created_at) WHERE fanned = 1;
CREATE INDEX deliveries_notification ON deliveries (notification_id);
