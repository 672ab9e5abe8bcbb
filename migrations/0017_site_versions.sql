-- Per-site versions for the in-memory read model shared by every instance.
--
-- Every committed change to what availability depends on (appointments, stations, opening rules,
-- closures, policy, release events, motif settings, the site row itself) bumps its site's version.
-- Triggers rather than application code: no write path (a staff page, the lifecycle job, an
-- operator's SQL) can forget it. Instances poll the table, so every change is seen within one poll
-- interval; the service also announces its own changes on the channel `site_changed`
-- ('<site uuid> <version>') right after they commit, so other instances see those at once.
--
-- Not NOTIFY inside the triggers: PostgreSQL serializes the commits of all transactions that
-- notify (one global lock held through the commit's WAL flush), which halved booking throughput.
-- The announcement is a separate, read-only statement after the commit.
--
-- The triggers are deferred to commit time: the version row is locked only while the transaction
-- commits, so bookings at one site do not queue behind each other's whole transactions.
--
-- The row of the nil UUID is the territory as a whole (sites, their motifs and station counts,
-- communes): instances reload their list of sites when it moves.

CREATE TABLE site_versions (
    site_id uuid PRIMARY KEY,
    version bigint NOT NULL DEFAULT 1
);
INSERT INTO site_versions (site_id) SELECT id FROM sites;
INSERT INTO site_versions (site_id) VALUES ('00000000-0000-0000-0000-000000000000');

CREATE FUNCTION bump_site_version(site uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO site_versions AS sv (site_id) VALUES (site)
        ON CONFLICT (site_id) DO UPDATE SET version = sv.version + 1;
$$;

-- TG_ARGV[0]: the column naming the site ('id' for sites, 'station_id' for opening rules, which
-- reach their site through the station); TG_ARGV[1], when 'territory', also bumps the territory.
CREATE FUNCTION site_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    site uuid;
BEGIN
    r := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
    IF TG_ARGV[0] = 'station_id' THEN
        -- A rule deleted with its station (cascade): the station's own trigger announced it.
        SELECT st.site_id INTO site FROM stations st WHERE st.id = (r ->> 'station_id')::uuid;
    ELSE
        site := (r ->> TG_ARGV[0])::uuid;
    END IF;
    IF site IS NOT NULL THEN
        PERFORM bump_site_version(site);
    END IF;
    IF TG_NARGS > 1 AND TG_ARGV[1] = 'territory' THEN
        PERFORM bump_site_version('00000000-0000-0000-0000-000000000000');
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER appointments_site_changed AFTER INSERT OR UPDATE OR DELETE ON appointments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id');
CREATE CONSTRAINT TRIGGER closures_site_changed AFTER INSERT OR UPDATE OR DELETE ON closures
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id');
CREATE CONSTRAINT TRIGGER release_events_site_changed AFTER INSERT OR UPDATE OR DELETE ON release_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id');
CREATE CONSTRAINT TRIGGER booking_policies_site_changed AFTER INSERT OR UPDATE OR DELETE ON booking_policies
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id');
CREATE CONSTRAINT TRIGGER opening_rules_site_changed AFTER INSERT OR UPDATE OR DELETE ON opening_rules
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('station_id');
CREATE CONSTRAINT TRIGGER stations_site_changed AFTER INSERT OR UPDATE OR DELETE ON stations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id', 'territory');
CREATE CONSTRAINT TRIGGER site_motifs_site_changed AFTER INSERT OR UPDATE OR DELETE ON site_motifs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('site_id', 'territory');
CREATE CONSTRAINT TRIGGER sites_site_changed AFTER INSERT OR UPDATE OR DELETE ON sites
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('id', 'territory');
CREATE CONSTRAINT TRIGGER communes_site_changed AFTER INSERT OR UPDATE OR DELETE ON communes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION site_changed('none', 'territory');

-- Deleting appointments (retention, erasure, load-test cleanup) looked up their used holds by a
-- scan of the whole table for each row.
CREATE INDEX used_holds_appointment ON used_holds (appointment_id);
