-- The allocation key made complete (issue 17): every choice the convention leaves to the group's
-- steering committee is stored with its period. The defaults read Annexe 2 literally (« en fonction
-- du nombre de téléservices proposés sur la plateforme et de la population de chaque membre »):
-- a count of téléservices, no prorata temporis, the sum of the two criteria, the CNI/passport
-- service in nobody's n_i.
--
-- No period is closed when this runs (the registry has no way to close one; the demo's 2026 is
-- open). A period closed by hand before it was split with n_i alone prorated by days, a rule this
-- key cannot express: such a period would have to be recomputed and closed again by the committee.
ALTER TABLE cost_periods
    ADD COLUMN prorata_temporis boolean NOT NULL DEFAULT false,
    ADD COLUMN combination text NOT NULL DEFAULT 'sum' CHECK (combination IN ('sum', 'product')),
    ADD COLUMN state_mission_in_epci_n boolean NOT NULL DEFAULT false,
    DROP CONSTRAINT cost_periods_epci_population_check,
    ADD CONSTRAINT cost_periods_epci_population_check
        CHECK (epci_population IN ('communes_sum', 'other_communes', 'none'));

-- The group's material costs (Art. 3.5: notices, copies, postage), paid by m2A: no téléservice.
ALTER TABLE period_costs
    DROP CONSTRAINT period_costs_category_check,
    ADD CONSTRAINT period_costs_category_check
        CHECK (category IN ('socle', 'hebergement', 'module', 'specific', 'state_mission', 'material')),
    DROP CONSTRAINT period_costs_check,
    ADD CONSTRAINT period_costs_service_check
        CHECK ((category IN ('socle', 'hebergement', 'material')) = (teleservice_code IS NULL));

-- A closed period never changes: neither its dates, its key nor its costs, and it is not reopened.
CREATE FUNCTION cost_period_closed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed AND (TG_OP = 'DELETE' OR NEW IS DISTINCT FROM OLD) THEN
        RAISE EXCEPTION 'cost period % is closed: its key never changes', OLD.code
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER cost_periods_closed BEFORE UPDATE OR DELETE ON cost_periods
    FOR EACH ROW EXECUTE FUNCTION cost_period_closed_guard();

CREATE FUNCTION period_costs_closed_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cost_periods
               WHERE closed AND code IN (OLD.period_code, NEW.period_code)) THEN
        RAISE EXCEPTION 'the costs of a closed period never change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER period_costs_closed BEFORE INSERT OR UPDATE OR DELETE ON period_costs
    FOR EACH ROW EXECUTE FUNCTION period_costs_closed_guard();
