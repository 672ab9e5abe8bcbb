//! Demo registry: the services the platform has today (seed document), the 39 communes and m2A as
//! members, a few subscriptions (one from mid-year), the framework agreement, a few orders, and the
//! 2026 period with its costs, so `GET /api/v1/allocations?period=2026` shows a full split.
//! Amounts are demo figures. Idempotent: ids derive from names.

use booking_service::db::seed::{demo_id, parse_communes, M2A_COMMUNES_CSV};
use chrono::NaiveDate;
use sqlx::PgPool;

/// The population source the demo period's key names.
pub const SOURCE: &str = "etalab-decoupage-administratif-6.0.0";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("literal date")
}

/// Writes the demo registry.
pub async fn seed_demo(pool: &PgPool) -> anyhow::Result<()> {
    let communes = parse_communes(M2A_COMMUNES_CSV)?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO framework_agreement (id, term_start, term_end, min_cents, max_cents)
         VALUES (1, '2025-01-01', '2029-01-01', 10000000, 160000000) ON CONFLICT (id) DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    let m2a = demo_id("registry/m2a");
    let total_m: i32 = communes.iter().map(|c| c.population).sum();
    let total_t: i32 = communes.iter().map(|c| c.population_totale).sum();
    sqlx::query(
        "INSERT INTO registry_members (id, kind, siren, name, adhesion_date, deliberation_ref)
         VALUES ($1, 'epci', '200066009', 'Mulhouse Alsace Agglomération', '2025-01-01', 'Délibération du conseil d''agglomération (démo)')
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(m2a)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO member_populations VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(m2a)
        .bind(SOURCE)
        .bind(total_m)
        .bind(total_t)
        .execute(&mut *tx)
        .await?;
    for c in &communes {
        let id = demo_id(&format!("registry/{}", c.insee_code));
        sqlx::query(
            "INSERT INTO registry_members (id, kind, insee_code, siren, name, adhesion_date, deliberation_ref)
             VALUES ($1, 'commune', $2, $3, $4, '2025-01-01', 'Délibération du conseil municipal (démo)')
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&c.insee_code)
        .bind(&c.siren)
        .bind(&c.name)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO member_populations VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(SOURCE)
            .bind(c.population)
            .bind(c.population_totale)
            .execute(&mut *tx)
            .await?;
    }
    let member = |insee: &str| demo_id(&format!("registry/{insee}"));
    let mulhouse = member("68224");
    let services: [(&str, &str, &str, uuid::Uuid, &str); 9] = [
        (
            "petite-enfance",
            "Petite enfance",
            "Demandes de place en crèche et multi-accueil",
            m2a,
            "mutualisable",
        ),
        (
            "activites-aquatiques",
            "Activités et loisirs aquatiques",
            "Inscriptions aux activités des piscines de l'agglomération",
            m2a,
            "mutualisable",
        ),
        (
            "etat-civil",
            "État civil",
            "Demandes d'actes de naissance, mariage, décès",
            mulhouse,
            "mutualisable",
        ),
        (
            "inscriptions-scolaires",
            "Inscriptions scolaires",
            "Inscription à l'école et au périscolaire",
            mulhouse,
            "mutualisable",
        ),
        (
            "service-des-eaux",
            "Service des eaux",
            "Abonnement et relève du compteur d'eau",
            mulhouse,
            "specific",
        ),
        (
            "carte-famille",
            "Carte famille",
            "Carte famille de la Ville de Mulhouse",
            mulhouse,
            "specific",
        ),
        (
            "stationnement-urbain",
            "Stationnement urbain",
            "Abonnements de stationnement résidentiel",
            mulhouse,
            "specific",
        ),
        (
            "pass-senior",
            "Pass Senior",
            "Pass Senior de la Ville de Mulhouse",
            mulhouse,
            "specific",
        ),
        (
            "rdv-cni-passeport",
            "Rendez-vous carte d'identité et passeport",
            "Prise de rendez-vous pour les titres d'identité, ouverte à toute la France",
            m2a,
            "state_mission",
        ),
    ];
    for (code, name, description, owner, kind) in services {
        sqlx::query(
            "INSERT INTO teleservices (code, name, description, owner_id, kind, public_url) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(code)
        .bind(name)
        .bind(description)
        .bind(owner)
        .bind(kind)
        .bind(format!("https://services.mulhouse-alsace.fr/{code}"))
        .execute(&mut *tx)
        .await?;
    }
    let mut subs: Vec<(uuid::Uuid, &str, NaiveDate)> = vec![
        (m2a, "petite-enfance", date(2025, 1, 1)),
        (m2a, "activites-aquatiques", date(2025, 1, 1)),
        (mulhouse, "etat-civil", date(2025, 1, 1)),
        (mulhouse, "inscriptions-scolaires", date(2025, 1, 1)),
        (mulhouse, "service-des-eaux", date(2025, 1, 1)),
        (mulhouse, "carte-famille", date(2025, 1, 1)),
        (mulhouse, "stationnement-urbain", date(2025, 1, 1)),
        (mulhouse, "pass-senior", date(2025, 1, 1)),
        (member("68278"), "etat-civil", date(2025, 3, 1)),
        (member("68154"), "etat-civil", date(2026, 1, 1)),
        (member("68376"), "inscriptions-scolaires", date(2025, 9, 1)),
        // Rixheim starts offering school registration mid-year: a full téléservice of 2026 under
        // the literal key, half of one (184 of 365 days) with prorata temporis.
        (member("68278"), "inscriptions-scolaires", date(2026, 7, 1)),
    ];
    for c in &communes {
        subs.push((member(&c.insee_code), "rdv-cni-passeport", date(2025, 1, 1)));
    }
    for (m, code, from) in subs {
        sqlx::query(
            "INSERT INTO subscriptions (id, member_id, teleservice_code, starts_on) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(demo_id(&format!("registry/sub/{m}/{code}")))
        .bind(m)
        .bind(code)
        .bind(from)
        .execute(&mut *tx)
        .await?;
    }
    // The key written out: the convention read literally, as the steering committee's decision.
    sqlx::query(
        "INSERT INTO cost_periods (code, starts_on, ends_on, prorata_temporis, alpha_permille, combination,
                                   epci_population, state_mission_in_epci_n, population_source, population_field)
         VALUES ('2026', '2026-01-01', '2027-01-01', false, 500, 'sum', 'communes_sum', false, $1, 'municipale')
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(SOURCE)
    .execute(&mut *tx)
    .await?;
    let costs: [(&str, Option<&str>, &str, i64); 11] = [
        (
            "socle",
            None,
            "Socle de base (administration, maintenance, support, infogérance)",
            18_000_000,
        ),
        ("hebergement", None, "Hébergement", 4_200_000),
        (
            "module",
            Some("petite-enfance"),
            "Module petite enfance",
            3_000_000,
        ),
        (
            "module",
            Some("activites-aquatiques"),
            "Module activités aquatiques",
            1_200_000,
        ),
        ("module", Some("etat-civil"), "Module état civil", 3_600_000),
        (
            "module",
            Some("inscriptions-scolaires"),
            "Module inscriptions scolaires",
            2_400_000,
        ),
        (
            "specific",
            Some("service-des-eaux"),
            "Service des eaux (Mulhouse)",
            1_500_000,
        ),
        (
            "specific",
            Some("carte-famille"),
            "Carte famille (Mulhouse)",
            800_000,
        ),
        (
            "specific",
            Some("stationnement-urbain"),
            "Stationnement urbain (Mulhouse)",
            2_000_000,
        ),
        ("specific", Some("pass-senior"), "Pass Senior (Mulhouse)", 600_000),
        (
            "state_mission",
            Some("rdv-cni-passeport"),
            "Rendez-vous CNI et passeport",
            2_500_000,
        ),
    ];
    for (category, service, label, cents) in costs {
        sqlx::query(
            "INSERT INTO period_costs (id, period_code, category, teleservice_code, label, amount_cents)
             VALUES ($1, '2026', $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(demo_id(&format!("registry/cost/2026/{label}")))
        .bind(category)
        .bind(service)
        .bind(label)
        .bind(cents)
        .execute(&mut *tx)
        .await?;
    }
    let orders: [(&str, uuid::Uuid, &str, i64, NaiveDate, &str); 3] = [
        (
            "BC-2025-0001",
            m2a,
            "rdv-cni-passeport",
            4_500_000,
            date(2025, 2, 1),
            "issued",
        ),
        (
            "BC-2025-0002",
            mulhouse,
            "service-des-eaux",
            2_800_000,
            date(2025, 4, 15),
            "issued",
        ),
        (
            "BC-2026-0003",
            m2a,
            "petite-enfance",
            1_900_000,
            date(2026, 2, 1),
            "announced",
        ),
    ];
    for (reference, m, code, cents, on, status) in orders {
        sqlx::query(
            "INSERT INTO purchase_orders (id, reference, member_id, teleservice_code, amount_cents, order_date, status, announced_at, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $6::timestamptz, CASE WHEN $7 = 'issued' THEN $6::timestamptz END)
             ON CONFLICT (reference) DO NOTHING",
        )
        .bind(demo_id(&format!("registry/order/{reference}")))
        .bind(reference)
        .bind(m)
        .bind(code)
        .bind(cents)
        .bind(on)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
