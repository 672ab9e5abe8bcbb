-- A row that moves from one site to another (an appointment moved to another mairie, a rule moved
-- to another station) changes both sites' calendars: the version of the site it left is bumped
-- too. Before this, the site it left kept its version, so other instances (and the confirmation's
-- version check) kept serving the freed slot as taken until their copy aged out.
CREATE OR REPLACE FUNCTION site_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    site uuid;
    old_site uuid;
BEGIN
    r := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
    IF TG_ARGV[0] = 'station_id' THEN
        -- A rule deleted with its station (cascade): the station's own trigger announced it.
        SELECT st.site_id INTO site FROM stations st WHERE st.id = (r ->> 'station_id')::uuid;
        IF TG_OP = 'UPDATE' THEN
            SELECT st.site_id INTO old_site FROM stations st WHERE st.id = (to_jsonb(OLD) ->> 'station_id')::uuid;
        END IF;
    ELSE
        site := (r ->> TG_ARGV[0])::uuid;
        IF TG_OP = 'UPDATE' THEN
            old_site := (to_jsonb(OLD) ->> TG_ARGV[0])::uuid;
        END IF;
    END IF;
    IF site IS NOT NULL THEN
        PERFORM bump_site_version(site);
    END IF;
    IF old_site IS NOT NULL AND old_site IS DISTINCT FROM site THEN
        PERFORM bump_site_version(old_site);
    END IF;
    IF TG_NARGS > 1 AND TG_ARGV[1] = 'territory' THEN
        PERFORM bump_site_version('00000000-0000-0000-0000-000000000000');
    END IF;
    RETURN NULL;
END $$;
