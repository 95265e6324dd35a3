-- Redelivery (an [ours] extension of spec §7): an attempt asked for by a person rather than by the retry schedule.
-- It names the delivery it was asked from; such an attempt is sent once and not retried.
ALTER TABLE webhook_deliveries ADD COLUMN redelivery_of TEXT;
