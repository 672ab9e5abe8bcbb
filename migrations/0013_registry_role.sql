-- The registry's own database role: it reads and writes the purchasing group's tables and reads
-- the communes, and cannot read a citizen's appointment, a staff account or the outbox. Created
-- NOLOGIN: the operator gives it a login (`ALTER ROLE rdv_registry LOGIN PASSWORD '…'`) and points
-- the registry's DATABASE_URL at it (with REGISTRY_MIGRATE=false: migrations stay with the owner).
-- A migration user without CREATEROLE (some managed databases) skips this with a notice.
DO $$
BEGIN
    BEGIN
        CREATE ROLE rdv_registry NOLOGIN;
    EXCEPTION WHEN OTHERS THEN
        -- Roles are shared by every database of the server: another database (a parallel test)
        -- may have created it a moment ago. Only a real failure is raised again.
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rdv_registry') THEN
            RAISE;
        END IF;
    END;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO rdv_registry', current_database());
    GRANT USAGE ON SCHEMA public TO rdv_registry;
    GRANT SELECT ON communes TO rdv_registry;
    GRANT SELECT, INSERT, UPDATE, DELETE ON framework_agreement, registry_members, member_populations,
        teleservices, subscriptions, purchase_orders, cost_periods, period_costs TO rdv_registry;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'rdv_registry not created (the migration user may not create roles): %', SQLERRM;
END $$;
