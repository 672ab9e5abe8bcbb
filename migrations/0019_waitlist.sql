-- The waiting list. A citizen with no acceptable slot subscribes (one site, or a commune and a
-- radius; a motif, a party size, the days they can come, an email). A slot that frees up is offered
-- to the first matching subscriber: the offer holds it in the database for a limited time, so no
-- one else can book it meanwhile and no two offers of one slot can live at once.

CREATE TABLE waitlist_entries (
    id                  uuid PRIMARY KEY,
    -- Arrival order: who subscribed first is offered first.
    seq                 bigserial NOT NULL UNIQUE,
    token_hash          bytea NOT NULL UNIQUE,
    -- Sealed management token, opened by the notifier to put the link in the offer email.
    manage_token_sealed bytea NOT NULL,
    site_id             uuid REFERENCES sites (id) ON DELETE CASCADE,
    commune_insee       text,
    -- The commune's position when subscribing by commune (from the gazetteer).
    latitude            double precision,
    longitude           double precision,
    radius_km           integer CHECK (radius_km BETWEEN 1 AND 200),
    motif               text NOT NULL,
    persons             smallint NOT NULL CHECK (persons BETWEEN 1 AND 10),
    email               text,
    email_key           text,
    from_day            date NOT NULL,
    to_day              date NOT NULL CHECK (to_day >= from_day),
    status              text NOT NULL DEFAULT 'waiting'
                        CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK ((site_id IS NOT NULL AND commune_insee IS NULL AND radius_km IS NULL)
        OR (site_id IS NULL AND commune_insee IS NOT NULL AND radius_km IS NOT NULL))
);
CREATE INDEX waitlist_entries_open ON waitlist_entries (seq) WHERE status IN ('waiting', 'offered');
CREATE INDEX waitlist_entries_email ON waitlist_entries (email_key) WHERE status IN ('waiting', 'offered');

CREATE TABLE waitlist_offers (
    id          uuid PRIMARY KEY,
    entry_id    uuid NOT NULL REFERENCES waitlist_entries (id) ON DELETE CASCADE,
    site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    station_id  uuid NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    during      tstzrange NOT NULL,
    expires_at  timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'offered'
                CHECK (status IN ('offered', 'accepted', 'expired', 'withdrawn')),
    created_at  timestamptz NOT NULL,
    -- Never two live offers of one station's time.
    CONSTRAINT waitlist_offer_no_overlap
        EXCLUDE USING gist (station_id WITH =, during WITH &&) WHERE (status = 'offered'),
    -- One live offer per subscriber.
    CONSTRAINT waitlist_one_live_offer
        EXCLUDE USING btree (entry_id WITH =) WHERE (status = 'offered')
);
CREATE INDEX waitlist_offers_site ON waitlist_offers (site_id) WHERE status = 'offered';
CREATE INDEX waitlist_offers_entry ON waitlist_offers (entry_id);

-- A live offer blocks its slot in every calendar: its changes move the site's version.
CREATE CONSTRAINT TRIGGER waitlist_offers_site_changed AFTER INSERT OR UPDATE OR DELETE ON waitlist_offers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id');

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('confirmation', 'reschedule', 'cancellation', 'reminder', 'ants_declare', 'ants_delete',
                    'ants_warning', 'staff_password_reset', 'waitlist_offer'));
