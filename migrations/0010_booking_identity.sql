-- Who booked, for the caps: the email address reduced to the mailbox it reaches (case, `+tag`,
-- and the dots Gmail ignores), so `x+1@` and `x+2@` count as one person; the phone is already
-- stored in E.164. Filled by the service on every booking; old rows are filled here the same way.
ALTER TABLE appointments ADD COLUMN email_key text;

UPDATE appointments
SET email_key = CASE
        WHEN split_part(lower(email), '@', 2) IN ('gmail.com', 'googlemail.com')
            THEN replace(split_part(regexp_replace(lower(email), '\+[^@]*@', '@'), '@', 1), '.', '') || '@gmail.com'
        ELSE regexp_replace(lower(email), '\+[^@]*@', '@')
    END
WHERE email IS NOT NULL;

CREATE INDEX appointments_live_email_key ON appointments (email_key) WHERE status IN ('booked', 'checked_in');
CREATE INDEX appointments_live_phone ON appointments (phone) WHERE status IN ('booked', 'checked_in');
