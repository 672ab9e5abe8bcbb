-- Registry: the platform's téléservices, the members of the purchasing group, who offers what from
-- when, purchase orders under the framework agreement, and the cost periods with their key.

-- The framework agreement (accord-cadre): one row.
CREATE TABLE framework_agreement (
    id          smallint PRIMARY KEY CHECK (id = 1),
    term_start  date NOT NULL,
    term_end    date NOT NULL, -- exclusive
    min_cents   bigint NOT NULL CHECK (min_cents >= 0),
    max_cents   bigint NOT NULL CHECK (max_cents >= min_cents),
    CHECK (term_end > term_start)
);

CREATE TABLE registry_members (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('commune', 'epci')),
    insee_code       text UNIQUE,
    siren            text NOT NULL UNIQUE CHECK (siren ~ '^[0-9]{9}$'),
    name             text NOT NULL,
    adhesion_date    date NOT NULL,
    deliberation_ref text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'commune') = (insee_code IS NOT NULL))
);

-- Populations by source, so a period's key can name the figures it used.
CREATE TABLE member_populations (
    member_id  uuid NOT NULL REFERENCES registry_members (id),
    source     text NOT NULL,
    municipale integer NOT NULL CHECK (municipale >= 0),
    totale     integer NOT NULL CHECK (totale >= 0),
    PRIMARY KEY (member_id, source)
);

CREATE TABLE teleservices (
    code         text PRIMARY KEY CHECK (code ~ '^[a-z0-9-]{2,60}$'),
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    owner_id     uuid NOT NULL REFERENCES registry_members (id),
    kind         text NOT NULL CHECK (kind IN ('mutualisable', 'specific', 'state_mission')),
    public_url   text,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('planned', 'active', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A member offers a téléservice on the platform from starts_on to ends_on (exclusive; NULL: ongoing).
CREATE TABLE subscriptions (
    id              uuid PRIMARY KEY,
    member_id       uuid NOT NULL REFERENCES registry_members (id),
    teleservice_code text NOT NULL REFERENCES teleservices (code),
    starts_on       date NOT NULL,
    ends_on         date,
    CHECK (ends_on IS NULL OR ends_on > starts_on)
);
CREATE INDEX subscriptions_member ON subscriptions (member_id);

CREATE TABLE purchase_orders (
    id               uuid PRIMARY KEY,
    reference        text NOT NULL UNIQUE,
    member_id        uuid NOT NULL REFERENCES registry_members (id),
    teleservice_code text REFERENCES teleservices (code),
    amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
    order_date       date NOT NULL,
    status           text NOT NULL CHECK (status IN ('announced', 'issued', 'withdrawn')),
    label            text NOT NULL DEFAULT '',
    announced_at     timestamptz NOT NULL,
    issued_at        timestamptz
);

-- A cost period and its allocation key, fixed with the period.
CREATE TABLE cost_periods (
    code              text PRIMARY KEY,
    starts_on         date NOT NULL,
    ends_on           date NOT NULL, -- exclusive
    alpha_permille    integer NOT NULL DEFAULT 500 CHECK (alpha_permille BETWEEN 0 AND 1000),
    population_source text NOT NULL,
    population_field  text NOT NULL DEFAULT 'municipale' CHECK (population_field IN ('municipale', 'totale')),
    -- What population counts for the EPCI member: the sum of its member communes, or none.
    epci_population   text NOT NULL DEFAULT 'communes_sum' CHECK (epci_population IN ('communes_sum', 'none')),
    closed            boolean NOT NULL DEFAULT false,
    CHECK (ends_on > starts_on)
);

CREATE TABLE period_costs (
    id               uuid PRIMARY KEY,
    period_code      text NOT NULL REFERENCES cost_periods (code),
    category         text NOT NULL CHECK (category IN ('socle', 'hebergement', 'module', 'specific', 'state_mission')),
    teleservice_code text REFERENCES teleservices (code),
    label            text NOT NULL,
    amount_cents     bigint NOT NULL CHECK (amount_cents >= 0),
    CHECK ((category IN ('socle', 'hebergement')) = (teleservice_code IS NULL))
);
