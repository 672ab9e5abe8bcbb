-- Territory (communes, sites, stations), calendars (rules, closures, policies, releases) and
-- appointments with the constraint that makes double booking impossible.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE communes (
    insee_code      text PRIMARY KEY CHECK (insee_code ~ '^[0-9][0-9AB][0-9]{3}$'),
    name            text NOT NULL,
    -- Lowercased, accents and hyphens folded: what search compares against.
    search_name     text NOT NULL,
    department_code text NOT NULL CHECK (department_code ~ '^([0-9]{2}|2A|2B|97[0-9])$'),
    postcodes       text[] NOT NULL DEFAULT '{}',
    population      integer CHECK (population >= 0),
    siren           text,
    latitude        double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude       double precision CHECK (longitude BETWEEN -180 AND 180),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);
CREATE INDEX communes_department ON communes (department_code);

CREATE TABLE sites (
    id            uuid PRIMARY KEY,
    commune_insee text NOT NULL REFERENCES communes (insee_code),
    name          text NOT NULL,
    address_line  text NOT NULL,
    postcode      text NOT NULL,
    city          text NOT NULL,
    latitude      double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    timezone      text NOT NULL,
    email         text,
    phone         text,
    is_demo       boolean NOT NULL DEFAULT false,
    active        boolean NOT NULL DEFAULT true,
    -- Bumped by every write that changes availability (bookings, rules, closures): cache key.
    calendar_version bigint NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_commune ON sites (commune_insee);

CREATE TABLE stations (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name       text NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);

CREATE TABLE site_motifs (
    site_id            uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    motif              text NOT NULL CHECK (motif IN ('CNI', 'PASSPORT', 'CNI-PASSPORT', 'RETRIEVAL')),
    minutes_per_person integer NOT NULL CHECK (minutes_per_person BETWEEN 5 AND 240),
    max_persons        integer NOT NULL CHECK (max_persons BETWEEN 1 AND 10),
    PRIMARY KEY (site_id, motif)
);

CREATE TABLE booking_policies (
    site_id                 uuid PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    min_notice_minutes      integer NOT NULL DEFAULT 120 CHECK (min_notice_minutes BETWEEN 0 AND 43200),
    horizon_days            integer NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 1 AND 366),
    release_time            time NOT NULL DEFAULT '00:00',
    cancel_deadline_minutes integer NOT NULL DEFAULT 240 CHECK (cancel_deadline_minutes BETWEEN 0 AND 43200),
    slot_step_minutes       integer NOT NULL DEFAULT 15 CHECK (slot_step_minutes BETWEEN 5 AND 240),
    reminder_hours          integer NOT NULL DEFAULT 48 CHECK (reminder_hours BETWEEN 1 AND 336)
);

-- Weekly opening ranges of a station in the site's local time; several per day for lunch breaks.
CREATE TABLE opening_rules (
    id          uuid PRIMARY KEY,
    station_id  uuid NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7), -- ISO: 1 = Monday
    start_time  time NOT NULL,
    end_time    time NOT NULL,
    valid_from  date NOT NULL,
    valid_until date,
    CHECK (start_time < end_time),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
CREATE INDEX opening_rules_station ON opening_rules (station_id);

-- A closure of a whole site (station_id NULL) or of one station.
CREATE TABLE closures (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    station_id uuid REFERENCES stations (id) ON DELETE CASCADE,
    during     tstzrange NOT NULL CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during)
                                         AND NOT lower_inf(during) AND NOT upper_inf(during)),
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX closures_site_during ON closures USING gist (site_id, during);

-- "Openings up to up_to become bookable at release_at" (opening a month at once).
CREATE TABLE release_events (
    id         uuid PRIMARY KEY,
    site_id    uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    up_to      date NOT NULL,
    release_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX release_events_site ON release_events (site_id);

CREATE TABLE appointments (
    id                uuid PRIMARY KEY,
    reference         text NOT NULL UNIQUE,
    site_id           uuid NOT NULL REFERENCES sites (id),
    station_id        uuid NOT NULL REFERENCES stations (id),
    motif             text NOT NULL CHECK (motif IN ('CNI', 'PASSPORT', 'CNI-PASSPORT', 'RETRIEVAL')),
    persons           smallint NOT NULL CHECK (persons BETWEEN 1 AND 10),
    during            tstzrange NOT NULL CHECK (NOT isempty(during) AND lower_inc(during) AND NOT upper_inc(during)
                                                AND NOT lower_inf(during) AND NOT upper_inf(during)),
    status            text NOT NULL DEFAULT 'booked'
                      CHECK (status IN ('booked', 'checked_in', 'done', 'no_show', 'cancelled', 'ended')),
    source            text NOT NULL DEFAULT 'online' CHECK (source IN ('online', 'counter', 'phone')),
    first_name        text NOT NULL,
    last_name         text NOT NULL,
    email             text,
    phone             text,
    -- SHA-256 of the management token; the token itself is only ever in the citizen's email.
    manage_token_hash bytea UNIQUE,
    -- iCalendar SEQUENCE: raised on every change the citizen is told about.
    calendar_sequence integer NOT NULL DEFAULT 0,
    cancelled_by      text CHECK (cancelled_by IN ('citizen', 'staff')),
    cancel_reason     text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CONSTRAINT appointment_no_overlap
        EXCLUDE USING gist (station_id WITH =, during WITH &&) WHERE (status IN ('booked', 'checked_in'))
);
CREATE INDEX appointments_site_during ON appointments USING gist (site_id, during)
    WHERE status IN ('booked', 'checked_in');
CREATE INDEX appointments_live_email ON appointments (email)
    WHERE status IN ('booked', 'checked_in');
