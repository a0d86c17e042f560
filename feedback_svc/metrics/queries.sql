-- name: work_gauges
-- What an operator watches: background work piling up and promises about to be broken.
-- Each count reads a partial index, so a scrape stays cheap on a large database.
SELECT (SELECT count(*) FROM outbox WHERE status = 'pending' AND run_after <= now()) AS outbox_due,
       (SELECT coalesce(extract(epoch FROM now() - min(run_after)), 0)
          FROM outbox WHERE status = 'pending' AND run_after <= now()) AS outbox_lag_seconds,
       (SELECT count(*) FROM outbox WHERE status = 'dead') AS outbox_dead,
       (SELECT count(*) FROM recovery_tasks WHERE status = 'open') AS recovery_open,
       -- overdue as the queue says it: a contact was promised by the deadline and has not happened
       (SELECT count(*) FROM recovery_tasks
         WHERE status = 'open' AND first_contact_at IS NULL AND deadline_at < now()) AS recovery_overdue,
       (SELECT count(*) FROM alerts WHERE status = 'pending' AND next_attempt_at <= now()) AS alerts_due,
       (SELECT count(*) FROM alerts WHERE status = 'failed') AS alerts_failed,
       (SELECT version FROM models WHERE active ORDER BY activated_at DESC NULLS LAST LIMIT 1) AS active_model;
