-- SMS reminders, for citizens who give a mobile number and ask for them at booking. A reply STOP,
-- forwarded by the SMS provider, turns them off for every live appointment of that number.
ALTER TABLE appointments ADD COLUMN sms_reminder boolean NOT NULL DEFAULT false;

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirmation', 'reschedule', 'cancellation', 'reminder', 'ants_declare', 'ants_delete',
                    'ants_warning', 'staff_password_reset', 'waitlist_offer', 'sms_reminder'));
