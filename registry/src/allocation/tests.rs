//! Worked examples computed by hand from the convention's words, then properties over random
//! groups and random keys.

use super::*;
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const YEAR: Period = Period {
    start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    end: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
};

/// The convention read literally: téléservices counted, α = 0.5, sum, m2A = its communes.
fn literal() -> Key {
    Key::literal("test")
}

/// The literal key with prorata temporis.
fn prorata() -> Key {
    Key {
        prorata_temporis: true,
        ..literal()
    }
}

fn member(key: &str, kind: MemberKind, population: i64) -> Member {
    Member {
        id: Uuid::new_v4(),
        key: key.into(),
        name: key.into(),
        kind,
        population,
        adhesion: d(2025, 1, 1),
    }
}

fn service(code: &str, kind: ServiceKind, owner: &Member) -> Service {
    Service {
        code: code.into(),
        kind,
        owner: owner.id,
    }
}

fn offer(m: &Member, code: &str, from: NaiveDate) -> Offer {
    Offer {
        member: m.id,
        service: code.into(),
        from,
        to: None,
    }
}

fn cost(category: Category, service: Option<&str>, cents: i64) -> Cost {
    Cost {
        category,
        service: service.map(String::from),
        label: format!("{category:?}"),
        cents,
    }
}

fn line<'a>(a: &'a Allocation, m: &Member) -> &'a Line {
    a.lines.iter().find(|l| l.member_id == m.id).unwrap()
}

fn part(a: &Allocation, m: &Member, c: Category) -> i64 {
    line(a, m)
        .parts
        .iter()
        .filter(|p| p.category == c)
        .map(|p| p.cents)
        .sum()
}

/// A (pop 1,000) and B (3,000) offer s1 all year; C (6,000) offers s1 and s2; Z (500) offers
/// nothing; E is the EPCI (10,500).
struct Group {
    a: Member,
    b: Member,
    c: Member,
    z: Member,
    e: Member,
    services: Vec<Service>,
    offers: Vec<Offer>,
}

fn group() -> Group {
    let (a, b, c) = (
        member("68001", MemberKind::Commune, 1000),
        member("68002", MemberKind::Commune, 3000),
        member("68003", MemberKind::Commune, 6000),
    );
    let (z, e) = (
        member("68004", MemberKind::Commune, 500),
        member("200066009", MemberKind::Epci, 10500),
    );
    let services = vec![
        service("s1", ServiceKind::Mutualisable, &e),
        service("s2", ServiceKind::Mutualisable, &e),
        service("s3", ServiceKind::Specific, &b),
        service("cni", ServiceKind::StateMission, &e),
    ];
    let offers = vec![
        offer(&a, "s1", d(2025, 6, 1)),
        offer(&b, "s1", d(2025, 6, 1)),
        offer(&c, "s1", d(2025, 6, 1)),
        offer(&c, "s2", d(2025, 6, 1)),
    ];
    Group {
        a,
        b,
        c,
        z,
        e,
        services,
        offers,
    }
}

impl Group {
    fn members(&self) -> Vec<Member> {
        vec![
            self.a.clone(),
            self.b.clone(),
            self.c.clone(),
            self.z.clone(),
            self.e.clone(),
        ]
    }
}

#[test]
fn socle_split_by_the_formula_and_nothing_for_a_member_without_service() {
    // n: A 1, B 1, C 2 (Σ 4); pop among them: 1,000 + 3,000 + 6,000 = 10,000; α = 0.5.
    // A: 0.5·1/4 + 0.5·1,000/10,000 = 0.125 + 0.05 = 0.175 → 1,750,000 of 10,000,000 cents
    // B: 0.125 + 0.15 = 0.275 → 2,750,000;  C: 0.25 + 0.30 = 0.55 → 5,500,000;  Z and E: 0.
    let g = group();
    let a = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Socle, None, 10_000_000)],
    )
    .unwrap();
    assert_eq!(part(&a, &g.a, Category::Socle), 1_750_000);
    assert_eq!(part(&a, &g.b, Category::Socle), 2_750_000);
    assert_eq!(part(&a, &g.c, Category::Socle), 5_500_000);
    assert_eq!(line(&a, &g.z).total_cents, 0);
    assert_eq!(line(&a, &g.e).total_cents, 0);
    assert_eq!(line(&a, &g.c).n, 2.0);
    assert_eq!(a.total_cents, 10_000_000);
}

#[test]
fn shares_add_up_exactly_with_largest_remainder() {
    // Hébergement 100 cents among A, B, C: exact 17.5, 27.5, 55 → floors 17, 27, 55 (99);
    // the last cent goes to the largest remainder; A and B tie at .5, B has the larger weight: B.
    let g = group();
    let a = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Hebergement, None, 100)],
    )
    .unwrap();
    assert_eq!(
        [
            part(&a, &g.a, Category::Hebergement),
            part(&a, &g.b, Category::Hebergement),
            part(&a, &g.c, Category::Hebergement)
        ],
        [17, 28, 55]
    );
    assert_eq!(a.total_cents, 100);
}

#[test]
fn a_mutualisable_module_used_by_three_communes_splits_by_their_populations() {
    // s1 used by A, B, C: 9,000 cents × 1,000/10,000, 3,000/10,000, 6,000/10,000 = 900, 2,700, 5,400.
    let g = group();
    let a = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Module, Some("s1"), 9_000)],
    )
    .unwrap();
    assert_eq!(
        [
            part(&a, &g.a, Category::Module),
            part(&a, &g.b, Category::Module),
            part(&a, &g.c, Category::Module)
        ],
        [900, 2_700, 5_400]
    );
    assert_eq!(line(&a, &g.z).total_cents + line(&a, &g.e).total_cents, 0);
}

#[test]
fn a_specific_module_stays_on_its_members_line_and_the_cni_service_on_m2a() {
    let g = group();
    let costs = [
        cost(Category::Specific, Some("s3"), 5_000),
        cost(Category::StateMission, Some("cni"), 7_000),
    ];
    let a = allocate(&YEAR, &literal(), &g.members(), &g.services, &g.offers, &costs).unwrap();
    assert_eq!(line(&a, &g.b).total_cents, 5_000);
    assert_eq!(line(&a, &g.e).total_cents, 7_000);
    assert_eq!(
        line(&a, &g.a).total_cents + line(&a, &g.c).total_cents + line(&a, &g.z).total_cents,
        0
    );
}

#[test]
fn the_cni_service_changes_nobodys_n() {
    // Every commune also offers the CNI appointment service: n and the socle split do not move.
    let g = group();
    let mut offers = g.offers.clone();
    for m in [&g.a, &g.b, &g.c, &g.z] {
        offers.push(offer(m, "cni", d(2024, 1, 1)));
    }
    let before = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Socle, None, 10_000_000)],
    )
    .unwrap();
    let after = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &offers,
        &[cost(Category::Socle, None, 10_000_000)],
    )
    .unwrap();
    for m in g.members() {
        assert_eq!(line(&before, &m).n, line(&after, &m).n);
        assert_eq!(line(&before, &m).total_cents, line(&after, &m).total_cents);
    }
    assert_eq!(line(&after, &g.z).total_cents, 0);
}

/// The July scenario: Z starts s2 on 1 July 2026; `late` joins the group on 1 July with s1 running
/// since January (a member counts from its adhesion).
fn july(g: &Group) -> (Member, Vec<Member>, Vec<Offer>) {
    let mut late = member("68005", MemberKind::Commune, 1000);
    late.adhesion = d(2026, 7, 1);
    let mut offers = g.offers.clone();
    offers.push(offer(&g.z, "s2", d(2026, 7, 1)));
    offers.push(offer(&late, "s1", d(2026, 1, 1)));
    let mut members = g.members();
    members.push(late.clone());
    (late, members, offers)
}

#[test]
fn read_literally_a_service_offered_part_of_the_period_counts_in_full() {
    // The Annexe counts « téléservices proposés »: Z and `late` offer one each in 2026, n = 1.
    // n: A 1, B 1, C 2, Z 1, late 1 (Σ 6); Σpop = 1,000 + 3,000 + 6,000 + 500 + 1,000 = 11,500.
    // Z:    ½·1/6 + ½·500/11,500   = 1/12 + 1/46 = 29/276 → 105,072.46 → 105,072 cents
    // late: ½·1/6 + ½·1,000/11,500 = 1/12 + 1/23 = 35/276 → 126,811.59 → 126,812 (largest remainder)
    let g = group();
    let (late, members, offers) = july(&g);
    let a = allocate(
        &YEAR,
        &literal(),
        &members,
        &g.services,
        &offers,
        &[cost(Category::Socle, None, 1_000_000)],
    )
    .unwrap();
    assert_eq!(
        (line(&a, &g.z).n, line(&a, &g.z).service_days, line(&a, &late).n),
        (1.0, 184, 1.0)
    );
    assert_eq!(part(&a, &g.z, Category::Socle), 105_072);
    assert_eq!(part(&a, &late, Category::Socle), 126_812);
    assert_eq!(part(&a, &g.a, Category::Socle), 126_812);
    assert_eq!(a.total_cents, 1_000_000);
}

#[test]
fn with_prorata_a_service_started_on_1_july_counts_184_of_365_days_on_every_criterion() {
    // 1 July → 31 December 2026: 184 of 365 days, n = 0.5041.
    // Σdays = 365 (A) + 365 (B) + 730 (C) + 184 (Z) + 184 (late) = 1,828;
    // Σ pop × days on the platform = (1,000 + 3,000 + 6,000)·365 + 500·184 + 1,000·184 = 3,926,000
    // (E offers nothing: not counted).
    // Z: ½·184/1,828 + ½·92,000/3,926,000 = 0.0503282… + 0.0117167… = 0.0620449… → 62,045 cents.
    // Before issue 17 only n_i was prorated (Z paid 72,067 with its full-year population): the
    // population term now counts Z's 184 days too.
    let g = group();
    let (late, members, offers) = july(&g);
    let a = allocate(
        &YEAR,
        &prorata(),
        &members,
        &g.services,
        &offers,
        &[cost(Category::Socle, None, 1_000_000)],
    )
    .unwrap();
    assert_eq!(line(&a, &g.z).service_days, 184);
    assert_eq!(line(&a, &g.z).active_days, 184);
    assert_eq!(line(&a, &g.z).n, 0.5041);
    assert_eq!(line(&a, &late).service_days, 184);
    assert_eq!(part(&a, &g.z, Category::Socle), 62_045);
    assert_eq!(a.total_cents, 1_000_000);
}

#[test]
fn a_half_year_member_pays_exactly_half_of_its_full_year_twin_on_every_line() {
    // 2028 has 366 days. X joins on 2 July 2028 (its service ran before: it counts from its
    // adhesion), 183 days = half the year; Y is its twin all year (same population, same module);
    // P offers the module all year. Prorata on, α = ½, sum.
    // n (days): P 366, X 183, Y 366, Σ 915. Population × days: P 4,000·366 = 1,464,000;
    // X 2,000·183 = 366,000; Y 2,000·366 = 732,000; Σ 2,562,000.
    // X: ½·183/915 + ½·366,000/2,562,000 = 1/10 + 1/14 = 6/35; Y: 1/5 + 1/7 = 12/35;
    // P: 1/5 + 2/7 = 17/35. Socle 84,000.00 € → X 14,400.00, Y 28,800.00, P 40,800.00;
    // hébergement 8,400.00 € → 1,440.00, 2,880.00, 4,080.00.
    // Module by population × days: 1,464,000 : 366,000 : 732,000 = 4 : 1 : 2 of 14,000.00 €
    // → X 2,000.00, Y 4,000.00, P 8,000.00.
    let year = Period {
        start: d(2028, 1, 1),
        end: d(2029, 1, 1),
    };
    let p = member("68001", MemberKind::Commune, 4000);
    let mut x = member("68002", MemberKind::Commune, 2000);
    x.adhesion = d(2028, 7, 2);
    let y = member("68003", MemberKind::Commune, 2000);
    let e = member("200066009", MemberKind::Epci, 8000);
    let services = vec![service("s1", ServiceKind::Mutualisable, &e)];
    let offers = vec![
        offer(&p, "s1", d(2027, 1, 1)),
        offer(&x, "s1", d(2027, 1, 1)),
        offer(&y, "s1", d(2027, 1, 1)),
    ];
    let costs = [
        cost(Category::Socle, None, 8_400_000),
        cost(Category::Hebergement, None, 840_000),
        cost(Category::Module, Some("s1"), 1_400_000),
    ];
    let members = [p.clone(), x.clone(), y.clone(), e];
    let a = allocate(&year, &prorata(), &members, &services, &offers, &costs).unwrap();
    let lines =
        |m: &Member| [Category::Socle, Category::Hebergement, Category::Module].map(|c| part(&a, m, c));
    assert_eq!(lines(&x), [1_440_000, 144_000, 200_000]);
    assert_eq!(lines(&y), [2_880_000, 288_000, 400_000]);
    assert_eq!(lines(&p), [4_080_000, 408_000, 800_000]);
    assert_eq!(lines(&y), lines(&x).map(|c| 2 * c));
    // Read literally X and Y are the same: both offer s1 in 2028.
    // n: 1, 1, 1; pop 4,000 : 2,000 : 2,000 → X = Y = ½·⅓ + ½·¼ = 7/24, P = ½·⅓ + ½·½ = 10/24:
    // socle 24,500.00 €, 24,500.00 €, 35,000.00 €; hébergement 2,450.00, 2,450.00, 3,500.00;
    // module by population 2 : 2 : 4 → 3,500.00, 3,500.00, 7,000.00.
    let a = allocate(&year, &literal(), &members, &services, &offers, &costs).unwrap();
    let lines =
        |m: &Member| [Category::Socle, Category::Hebergement, Category::Module].map(|c| part(&a, m, c));
    assert_eq!(lines(&x), [2_450_000, 245_000, 350_000]);
    assert_eq!(lines(&y), [2_450_000, 245_000, 350_000]);
    assert_eq!(lines(&p), [3_500_000, 350_000, 700_000]);
}

/// The 2026 demo of `seed.rs`: the 39 communes and m2A, the services and costs of the period.
struct Demo {
    members: Vec<Member>,
    services: Vec<Service>,
    offers: Vec<Offer>,
    costs: Vec<Cost>,
}

fn demo_2026() -> Demo {
    use booking_service::db::seed::{parse_communes, M2A_COMMUNES_CSV};
    let communes = parse_communes(M2A_COMMUNES_CSV).unwrap();
    let mut members: Vec<Member> = communes
        .iter()
        .map(|c| member(&c.insee_code, MemberKind::Commune, i64::from(c.population)))
        .collect();
    let m2a = member("200066009", MemberKind::Epci, 272_950);
    members.push(m2a.clone());
    let by = |insee: &str| members.iter().find(|m| m.key == insee).unwrap().clone();
    let mulhouse = by("68224");
    let services = vec![
        service("petite-enfance", ServiceKind::Mutualisable, &m2a),
        service("activites-aquatiques", ServiceKind::Mutualisable, &m2a),
        service("etat-civil", ServiceKind::Mutualisable, &mulhouse),
        service("inscriptions-scolaires", ServiceKind::Mutualisable, &mulhouse),
        service("service-des-eaux", ServiceKind::Specific, &mulhouse),
        service("carte-famille", ServiceKind::Specific, &mulhouse),
        service("stationnement-urbain", ServiceKind::Specific, &mulhouse),
        service("pass-senior", ServiceKind::Specific, &mulhouse),
        service("rdv-cni-passeport", ServiceKind::StateMission, &m2a),
    ];
    let mut offers = vec![
        offer(&m2a, "petite-enfance", d(2025, 1, 1)),
        offer(&m2a, "activites-aquatiques", d(2025, 1, 1)),
        offer(&by("68278"), "etat-civil", d(2025, 3, 1)),
        offer(&by("68154"), "etat-civil", d(2026, 1, 1)),
        offer(&by("68376"), "inscriptions-scolaires", d(2025, 9, 1)),
        offer(&by("68278"), "inscriptions-scolaires", d(2026, 7, 1)),
    ];
    for code in [
        "etat-civil",
        "inscriptions-scolaires",
        "service-des-eaux",
        "carte-famille",
        "stationnement-urbain",
        "pass-senior",
    ] {
        offers.push(offer(&mulhouse, code, d(2025, 1, 1)));
    }
    for c in &communes {
        offers.push(offer(&by(&c.insee_code), "rdv-cni-passeport", d(2025, 1, 1)));
    }
    let costs = vec![
        cost(Category::Socle, None, 18_000_000),
        cost(Category::Hebergement, None, 4_200_000),
        cost(Category::Module, Some("petite-enfance"), 3_000_000),
        cost(Category::Module, Some("activites-aquatiques"), 1_200_000),
        cost(Category::Module, Some("etat-civil"), 3_600_000),
        cost(Category::Module, Some("inscriptions-scolaires"), 2_400_000),
        cost(Category::Specific, Some("service-des-eaux"), 1_500_000),
        cost(Category::Specific, Some("carte-famille"), 800_000),
        cost(Category::Specific, Some("stationnement-urbain"), 2_000_000),
        cost(Category::Specific, Some("pass-senior"), 600_000),
        cost(Category::StateMission, Some("rdv-cni-passeport"), 2_500_000),
    ];
    Demo {
        members,
        services,
        offers,
        costs,
    }
}

/// A member's cents per category, in the order socle, hébergement, modules, specific, state mission.
fn by_category(a: &Allocation, key: &str) -> [i64; 5] {
    let l = a.lines.iter().find(|l| l.key == key).unwrap();
    [
        Category::Socle,
        Category::Hebergement,
        Category::Module,
        Category::Specific,
        Category::StateMission,
    ]
    .map(|c| l.parts.iter().filter(|p| p.category == c).map(|p| p.cents).sum())
}

#[test]
fn the_2026_demo_split_read_literally() {
    // Members offering a counted téléservice in 2026, and n_i (the CNI service counts for nobody):
    // m2A 2 (petite enfance, activités aquatiques), Mulhouse 6, Rixheim 2 (état civil, and
    // inscriptions scolaires from 1 July: offered in the period, so counted), Illzach 1,
    // Wittenheim 1; Σn = 12.
    // Populations (municipale): m2A = its 39 communes = 272,950, Mulhouse 104,924, Rixheim 14,125,
    // Illzach 15,115, Wittenheim 15,491; Σpop = 422,605.
    // Socle + hébergement = 222,000.00 €, share_i = ½·n_i/12 + ½·pop_i/422,605:
    //   Rixheim ½·2/12 + ½·14,125/422,605 = 0.1000452 → 18,008.13 + 4,201.90
    // Modules by population among their users:
    //   état civil 36,000 € among Mulhouse, Rixheim, Illzach (Σ 134,164):
    //     Rixheim 36,000·14,125/134,164 = 3,790.14
    //   inscriptions scolaires 24,000 € among Mulhouse, Wittenheim, Rixheim (Σ 134,540):
    //     Rixheim 24,000·14,125/134,540 = 2,519.70
    //   → Rixheim 18,008.13 + 4,201.90 + 3,790.14 + 2,519.70 = 28,519.87 €.
    // Specific modules (49,000 €) on Mulhouse's line; the CNI service (25,000 €) and the two
    // modules only m2A offers (42,000 €) on m2A's.
    let demo = demo_2026();
    let a = allocate(
        &YEAR,
        &literal(),
        &demo.members,
        &demo.services,
        &demo.offers,
        &demo.costs,
    )
    .unwrap();
    let total = |k: &str| a.lines.iter().find(|l| l.key == k).unwrap().total_cents;
    assert_eq!(total("68278"), 2_851_987, "Rixheim");
    assert_eq!(total("68224"), 17_892_999, "Mulhouse");
    assert_eq!(total("200066009"), 15_719_212, "m2A");
    assert_eq!(total("68154"), 1_727_583, "Illzach");
    assert_eq!(total("68376"), 1_608_219, "Wittenheim");
    assert_eq!(a.total_cents, 39_800_000);
    assert_eq!(
        by_category(&a, "68278"),
        [1_800_813, 420_190, 379_014 + 251_970, 0, 0]
    );
    assert_eq!(
        by_category(&a, "68224"),
        [6_734_512, 1_571_386, 2_815_408 + 1_871_693, 4_900_000, 0]
    );
    assert_eq!(
        by_category(&a, "200066009"),
        [7_312_875, 1_706_337, 4_200_000, 0, 2_500_000]
    );
    assert_eq!(by_category(&a, "68154"), [1_071_896, 250_109, 405_578, 0, 0]);
    assert_eq!(by_category(&a, "68376"), [1_079_904, 251_978, 276_337, 0, 0]);
    // The 35 other communes offer only the CNI service: they pay nothing.
    let payers = a.lines.iter().filter(|l| l.total_cents > 0).count();
    assert_eq!(payers, 5);
    let rixheim = a.lines.iter().find(|l| l.key == "68278").unwrap();
    assert_eq!((rixheim.n, rixheim.service_days), (2.0, 365 + 184));
}

#[test]
fn the_2026_demo_split_with_prorata_temporis() {
    // Rixheim offers inscriptions scolaires 184 of 365 days: n = (365 + 184)/365 = 1.5041; every
    // other member all year (Σ days = 730 + 2,190 + 549 + 365 + 365 = 4,199). Population × days:
    // everyone all year (Rixheim offers état civil all year), so the population term is as read
    // literally. Socle share: Rixheim ½·549/4,199 + ½·14,125/422,605 = 0.0820849.
    // Its school module share is by population × days: 14,125·184 against Mulhouse's
    // 104,924·365 and Wittenheim's 15,491·365: 24,000 € × 2,599,000/46,550,575 = 1,339.96 €.
    // Rixheim: 14,775.22 + 3,447.55 + 3,790.14 + 1,339.96 = 23,352.87 € (before issue 17, with
    // only n_i prorated, it paid 24,532.61 €: its school module at full population).
    let demo = demo_2026();
    let a = allocate(
        &YEAR,
        &prorata(),
        &demo.members,
        &demo.services,
        &demo.offers,
        &demo.costs,
    )
    .unwrap();
    assert_eq!(
        by_category(&a, "68278"),
        [1_477_522, 344_755, 379_014 + 133_996, 0, 0]
    );
    assert_eq!(
        by_category(&a, "68224"),
        [6_928_487, 1_616_647, 2_815_408 + 1_974_490, 4_900_000, 0]
    );
    assert_eq!(
        by_category(&a, "200066009"),
        [7_377_533, 1_721_424, 4_200_000, 0, 2_500_000]
    );
    assert_eq!(by_category(&a, "68154"), [1_104_225, 257_653, 405_578, 0, 0]);
    assert_eq!(by_category(&a, "68376"), [1_112_233, 259_521, 291_514, 0, 0]);
    assert_eq!(a.total_cents, 39_800_000);
    let rixheim = a.lines.iter().find(|l| l.key == "68278").unwrap();
    assert_eq!((rixheim.n, rixheim.total_cents), (1.5041, 2_335_287));
}

#[test]
fn the_cni_service_counts_in_m2as_n_only_when_the_key_says_so() {
    // Every commune offers the CNI service; m2A runs it for the State. Counted in m2A's n:
    // n: A 1, B 1, C 2, E 1 (Σ 5); population: E = its communes = 10,500; Σ 20,500.
    // E: ½·1/5 + ½·10,500/20,500 = 1/10 + 21/82 = 73/205 → 3,560,975.6 → 3,560,976 cents;
    // A: ½·1/5 + ½·1,000/20,500 = 51/410 → 1,243,902.4 → 1,243,902. Z still pays nothing.
    let g = group();
    let mut offers = g.offers.clone();
    for m in [&g.a, &g.b, &g.c, &g.z] {
        offers.push(offer(m, "cni", d(2024, 1, 1)));
    }
    let key = Key {
        state_mission_in_epci_n: true,
        ..literal()
    };
    let costs = [cost(Category::Socle, None, 10_000_000)];
    let a = allocate(&YEAR, &key, &g.members(), &g.services, &offers, &costs).unwrap();
    assert_eq!(line(&a, &g.e).n, 1.0);
    assert_eq!(part(&a, &g.e, Category::Socle), 3_560_976);
    assert_eq!(part(&a, &g.a, Category::Socle), 1_243_902);
    assert_eq!(line(&a, &g.z).total_cents, 0);
    assert_eq!(a.total_cents, 10_000_000);
}

/// The group with E offering s2 too, so that E's population matters.
fn group_with_epci_service() -> (Group, Vec<Offer>) {
    let g = group();
    let mut offers = g.offers.clone();
    offers.push(offer(&g.e, "s2", d(2025, 6, 1)));
    (g, offers)
}

#[test]
fn the_product_multiplies_n_and_population() {
    // n·pop: A 1·1,000, B 1·3,000, C 2·6,000, E 1·10,500 (its communes) → Σ 26,500:
    // A 2/53 → 377,358.49, B 6/53 → 1,132,075.47, C 24/53 → 4,528,301.89, E 21/53 → 3,962,264.15;
    // floors leave 2 cents, to the largest remainders: C (.89) and A (.49).
    let (g, offers) = group_with_epci_service();
    let key = Key {
        combination: Combination::Product,
        ..literal()
    };
    let costs = [cost(Category::Socle, None, 10_000_000)];
    let a = allocate(&YEAR, &key, &g.members(), &g.services, &offers, &costs).unwrap();
    assert_eq!(
        [&g.a, &g.b, &g.c, &g.e].map(|m| part(&a, m, Category::Socle)),
        [377_359, 1_132_075, 4_528_302, 3_962_264]
    );
}

#[test]
fn m2as_population_follows_the_keys_rule() {
    let (g, offers) = group_with_epci_service();
    let costs = [
        cost(Category::Socle, None, 10_000_000),
        cost(Category::Module, Some("s2"), 1_000_000),
    ];
    let with = |rule| {
        let key = Key {
            epci_population: rule,
            ..literal()
        };
        allocate(&YEAR, &key, &g.members(), &g.services, &offers, &costs).unwrap()
    };
    // Other communes: only Z offers nothing, so E counts 500 and nobody twice.
    // n Σ 5; pop 1,000 + 3,000 + 6,000 + 500 = 10,500. E: ½·1/5 + ½·500/10,500 = 13/105 →
    // 1,238,095.2; module s2 among C (6,000) and E (500): E 1/13 → 76,923.1.
    let a = with(EpciPopulation::OtherCommunes);
    assert_eq!(line(&a, &g.e).population, 500);
    assert_eq!(part(&a, &g.e, Category::Socle), 1_238_095);
    assert_eq!(part(&a, &g.e, Category::Module), 76_923);
    // None: E shares by its n alone (½·1/5 = 1/10) and pays nothing of s2 (population 0).
    let a = with(EpciPopulation::None);
    assert_eq!(part(&a, &g.e, Category::Socle), 1_000_000);
    assert_eq!(part(&a, &g.e, Category::Module), 0);
    assert_eq!(part(&a, &g.c, Category::Module), 1_000_000);
    // The sum of its communes: 10,500.
    assert_eq!(line(&with(EpciPopulation::CommunesSum), &g.e).population, 10_500);
}

#[test]
fn the_groups_material_costs_are_on_m2as_line() {
    let g = group();
    let mut material = cost(Category::Material, None, 123_456);
    material.label = "Frais matériels (avis, copies, affranchissement)".into();
    let a = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &g.offers,
        &[material.clone()],
    )
    .unwrap();
    assert_eq!(part(&a, &g.e, Category::Material), 123_456);
    assert_eq!(a.total_cents, 123_456);
    let err = allocate(
        &YEAR,
        &literal(),
        std::slice::from_ref(&g.a),
        &g.services,
        &g.offers,
        &[material],
    )
    .unwrap_err();
    assert!(matches!(err, AllocError::NoPayer(_)));
}

#[test]
fn amounts_too_large_to_split_exactly_are_refused_not_wrapped() {
    let g = group();
    // Distinct populations, so that no common factor brings the fractions back within i128.
    let mut members = g.members();
    for (i, m) in members.iter_mut().enumerate() {
        m.population = i64::MAX - i as i64;
    }
    let err = allocate(
        &YEAR,
        &prorata(),
        &members,
        &g.services,
        &g.offers,
        &[cost(Category::Socle, None, i64::MAX)],
    )
    .unwrap_err();
    assert!(matches!(err, AllocError::TooLarge(_)));
}

#[test]
fn costs_nobody_can_pay_are_errors_not_silent() {
    let g = group();
    let err = allocate(
        &YEAR,
        &literal(),
        std::slice::from_ref(&g.z),
        &g.services,
        &[],
        &[cost(Category::Socle, None, 10)],
    )
    .unwrap_err();
    assert!(matches!(err, AllocError::NoPayer(_)));
    let err = allocate(
        &YEAR,
        &literal(),
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Module, Some("s3"), 10)],
    )
    .unwrap_err();
    assert!(matches!(err, AllocError::BadService(_)));
}

#[test]
fn each_decision_is_labelled_with_the_sentence_it_interprets() {
    let committee = literal();
    let decisions = committee.decisions(&committee);
    assert_eq!(
        decisions.iter().map(|d| d.field).collect::<Vec<_>>(),
        [
            "prorata_temporis",
            "alpha_permille",
            "combination",
            "epci_population",
            "state_mission_in_epci_n",
            "population_source",
            "population_field"
        ]
    );
    assert!(decisions
        .iter()
        .all(|d| d.status == "Décision du comité de pilotage" && d.committee_value.is_none()));
    assert!(decisions.iter().all(|d| d.interprets.contains(
        "« en fonction du nombre de téléservices proposés sur la plateforme et de la population de chaque membre »"
    )));
    assert_eq!(decisions[1].shown, "0,5");
    let what_if = committee.with(&Overrides {
        prorata_temporis: Some(true),
        alpha_permille: Alpha::from_permille(250),
        ..Overrides::default()
    });
    let decisions = what_if.decisions(&committee);
    assert!(decisions[0].status.starts_with("Simulation"));
    assert_eq!(decisions[0].committee_value, Some(false.into()));
    assert_eq!(decisions[1].shown, "0,25");
    assert_eq!(decisions[2].status, "Décision du comité de pilotage");
    assert_eq!(Alpha::from_permille(1001), None);
    assert_eq!(Alpha::from_permille(-1), None);
}

prop_compose! {
    fn arb_offer(members: usize)(m in 0..members, s in 0usize..4, from in 0i64..500, len in proptest::option::of(1i64..400)) -> RawOffer {
        (m, s, from, len)
    }
}

fn arb_key() -> impl Strategy<Value = Key> {
    (
        any::<bool>(),
        0i64..=1000,
        prop_oneof![Just(Combination::Sum), Just(Combination::Product)],
        prop_oneof![
            Just(EpciPopulation::CommunesSum),
            Just(EpciPopulation::OtherCommunes),
            Just(EpciPopulation::None)
        ],
        any::<bool>(),
    )
        .prop_map(
            |(prorata_temporis, alpha, combination, epci_population, sm)| Key {
                prorata_temporis,
                alpha_permille: Alpha::from_permille(alpha).unwrap(),
                combination,
                epci_population,
                state_mission_in_epci_n: sm,
                ..literal()
            },
        )
}

/// An offer of a random group: (member index, service index, days from 1 October 2025, length).
type RawOffer = (usize, usize, i64, Option<i64>);

/// (populations, adhesion offsets, offers, key, costs) of a random group.
type Scenario = (Vec<i64>, Vec<i64>, Vec<RawOffer>, Key, Vec<i64>);

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..7).prop_flat_map(|n| {
        (
            proptest::collection::vec(0i64..200_000, n),
            proptest::collection::vec(0i64..400, n),
            proptest::collection::vec(arb_offer(n), 1..12),
            arb_key(),
            proptest::collection::vec(0i64..50_000_000, 5),
        )
    })
}

const CODES: [&str; 4] = ["m0", "m1", "sp", "cni"];

fn build(pops: &[i64], adhesions: &[i64], offers: &[RawOffer]) -> (Vec<Member>, Vec<Service>, Vec<Offer>) {
    let base = d(2025, 10, 1);
    let mut members: Vec<Member> = pops
        .iter()
        .enumerate()
        .map(|(i, &p)| Member {
            id: Uuid::new_v4(),
            key: format!("68{i:03}"),
            name: format!("m{i}"),
            kind: MemberKind::Commune,
            population: p,
            adhesion: base + chrono::Duration::days(adhesions[i]),
        })
        .collect();
    let epci = member("200066009", MemberKind::Epci, pops.iter().sum());
    members.push(epci.clone());
    let services = vec![
        service("m0", ServiceKind::Mutualisable, &epci),
        service("m1", ServiceKind::Mutualisable, &epci),
        service("sp", ServiceKind::Specific, &members[0]),
        service("cni", ServiceKind::StateMission, &epci),
    ];
    let offers = offers_of(&members, offers);
    (members, services, offers)
}

/// Offers from (member index, service index, days from 1 October 2025, length in days).
fn offers_of(members: &[Member], offers: &[RawOffer]) -> Vec<Offer> {
    let base = d(2025, 10, 1);
    offers
        .iter()
        .map(|&(m, s, from, len)| Offer {
            member: members[m].id,
            service: CODES[s].into(),
            from: base + chrono::Duration::days(from),
            to: len.map(|l| base + chrono::Duration::days(from + l)),
        })
        .collect()
}

fn costs(c: &[i64]) -> Vec<Cost> {
    vec![
        cost(Category::Socle, None, c[0]),
        cost(Category::Hebergement, None, c[1]),
        cost(Category::Module, Some("m0"), c[2]),
        cost(Category::StateMission, Some("cni"), c[3]),
        cost(Category::Material, None, c[4]),
    ]
}

/// Every member's weight on every line (each criterion of the socle, then each module), by id.
fn weights(key: &Key, members: &[Member], services: &[Service], offers: &[Offer]) -> Vec<Vec<(Uuid, i128)>> {
    let kind_of: BTreeMap<&str, &Service> = services.iter().map(|s| (s.code.as_str(), s)).collect();
    let s = Splits::new(&YEAR, key, members, &kind_of, offers);
    let mut terms: Vec<&Term> = s.socle.iter().collect();
    let modules = [s.module(key, "m0"), s.module(key, "m1")];
    terms.extend(modules.iter());
    terms
        .into_iter()
        .map(|t| t.weights.iter().map(|&(i, w)| (members[i].id, w)).collect())
        .collect()
}

/// Each member's exact share of every line (socle, then each module): `num/den` by id.
fn exact(
    key: &Key,
    members: &[Member],
    services: &[Service],
    offers: &[Offer],
) -> Vec<BTreeMap<Uuid, (i128, i128)>> {
    let kind_of: BTreeMap<&str, &Service> = services.iter().map(|s| (s.code.as_str(), s)).collect();
    let s = Splits::new(&YEAR, key, members, &kind_of, offers);
    let mut lines = vec![exact_shares(&s.socle, "socle").unwrap()];
    for code in ["m0", "m1"] {
        lines.push(exact_shares(&[s.module(key, code)], code).unwrap());
    }
    lines
        .into_iter()
        .map(|(nums, den)| nums.into_iter().map(|(i, n)| (members[i].id, (n, den))).collect())
        .collect()
}

/// A member X offering `services` (indices in [`CODES`]) for `days` days from `start` in 2026.
fn with_x(
    members: &[Member],
    offers: &[Offer],
    x: &Member,
    services: &[usize],
    start: i64,
    days: i64,
) -> (Vec<Member>, Vec<Offer>) {
    let mut members = members.to_vec();
    members.push(x.clone());
    let mut offers = offers.to_vec();
    for &s in services {
        offers.push(Offer {
            member: x.id,
            service: CODES[s].into(),
            from: YEAR.start + chrono::Duration::days(start),
            to: Some(YEAR.start + chrono::Duration::days(start + days)),
        });
    }
    (members, offers)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn sums_are_exact_to_the_cent_and_no_share_is_negative((pops, adh, offers, key, c) in scenario()) {
        let (members, services, offers) = build(&pops, &adh, &offers);
        let costs = costs(&c);
        match allocate(&YEAR, &key, &members, &services, &offers, &costs) {
            Ok(a) => {
                prop_assert_eq!(a.total_cents, c.iter().sum::<i64>());
                for cat in [Category::Socle, Category::Hebergement, Category::Module, Category::StateMission, Category::Material] {
                    let sum: i64 = a.lines.iter().flat_map(|l| &l.parts).filter(|p| p.category == cat).map(|p| p.cents).sum();
                    let want: i64 = costs.iter().filter(|x| x.category == cat).map(|x| x.cents).sum();
                    prop_assert_eq!(sum, want);
                }
                for l in &a.lines {
                    prop_assert!(l.parts.iter().all(|p| p.cents >= 0));
                    prop_assert_eq!(l.total_cents, l.parts.iter().map(|p| p.cents).sum::<i64>());
                    if l.service_days == 0 && l.key != "200066009" {
                        prop_assert_eq!(l.total_cents, 0);
                    }
                }
            }
            // Only when nobody offered the module or anything at all in the period.
            Err(e) => prop_assert!(matches!(e, AllocError::NoPayer(_))),
        }
    }

    #[test]
    fn more_population_or_more_services_never_pays_less((pops, adh, offers, key, c) in scenario(), extra_pop in 1i64..50_000, which in 0usize..2) {
        let (mut members, services, mut offers) = build(&pops, &adh, &offers);
        // X and Y are twins offering m0 all period; Y has more population, or also offers m1.
        let mut x = member("69001", MemberKind::Commune, 10_000);
        x.adhesion = d(2025, 1, 1);
        let mut y = x.clone();
        y.id = Uuid::new_v4();
        y.key = "69002".into();
        for m in [&x, &y] {
            offers.push(offer(m, "m0", d(2025, 1, 1)));
        }
        if which == 0 {
            y.population += extra_pop;
        } else {
            offers.push(offer(&y, "m1", d(2025, 1, 1)));
        }
        members.push(x.clone());
        members.push(y.clone());
        let a = allocate(&YEAR, &key, &members, &services, &offers, &costs(&c)).unwrap();
        prop_assert!(line(&a, &y).total_cents >= line(&a, &x).total_cents, "{:?}\n{:?}", line(&a, &x), line(&a, &y));
    }

    /// Half the days, half the weight; any days, proportional weight; nobody else moves.
    #[test]
    fn with_prorata_a_members_weight_on_every_line_is_proportional_to_its_days(
        (pops, adh, offers, key, _c) in scenario(),
        pop in 0i64..200_000,
        // X's own téléservices (its offer of the CNI service would count for the EPCI, if at all).
        services in proptest::sample::subsequence(vec![0usize, 1, 2], 1..=3),
        // Inside 2026, so that no span is cut by the period's end.
        start in 0i64..182,
        days in 1i64..=91,
        other in 1i64..=183,
    ) {
        let key = Key { prorata_temporis: true, ..key };
        let (members, catalog, offers) = build(&pops, &adh, &offers);
        let x = member("69001", MemberKind::Commune, pop);
        let w = |days: i64| {
            let (m, o) = with_x(&members, &offers, &x, &services, start, days);
            weights(&key, &m, &catalog, &o)
        };
        for (full, half) in [(2 * days, days), (days, other)] {
            let (a, b) = (w(full), w(half));
            prop_assert_eq!(a.len(), b.len());
            for (la, lb) in a.iter().zip(&b) {
                let (xa, xb) = (la.iter().find(|w| w.0 == x.id), lb.iter().find(|w| w.0 == x.id));
                prop_assert_eq!(xa.is_some(), xb.is_some());
                if let (Some(xa), Some(xb)) = (xa, xb) {
                    prop_assert_eq!(xa.1 * i128::from(half), xb.1 * i128::from(full), "X: {:?} vs {:?}", xa, xb);
                }
                let others = |l: &Vec<(Uuid, i128)>| l.iter().filter(|w| w.0 != x.id).copied().collect::<Vec<_>>();
                prop_assert_eq!(others(la), others(lb));
            }
        }
    }

    /// X and its twin Y (same population, same services) in one split: X half the days of Y pays
    /// exactly half of Y's exact share on every line.
    #[test]
    fn with_prorata_a_twin_with_half_the_days_has_exactly_half_the_share(
        (pops, adh, offers, key, _c) in scenario(),
        pop in 1i64..200_000,
        services in proptest::sample::subsequence(vec![0usize, 1, 2], 1..=3),
        days in 1i64..=182,
    ) {
        let key = Key { prorata_temporis: true, ..key };
        let (members, catalog, offers) = build(&pops, &adh, &offers);
        let x = member("69001", MemberKind::Commune, pop);
        let mut y = x.clone();
        y.id = Uuid::new_v4();
        y.key = "69002".into();
        let (m, o) = with_x(&members, &offers, &x, &services, 0, days);
        let (m, o) = with_x(&m, &o, &y, &services, 0, 2 * days);
        for line in exact(&key, &m, &catalog, &o) {
            if let (Some(&(nx, d)), Some(&(ny, _))) = (line.get(&x.id), line.get(&y.id)) {
                prop_assert_eq!(2 * nx, ny, "over {}", d);
            }
        }
    }

    /// Read literally, only whether a service is offered in the period counts, not for how long.
    #[test]
    fn without_prorata_days_do_not_matter_once_a_service_is_offered(
        (pops, _adh, _offers, key, c) in scenario(),
        offered in proptest::collection::vec((0usize..6, 0usize..4), 1..12),
        spans in proptest::collection::vec((0i64..365, 1i64..=365, 0i64..365, 1i64..=365), 12),
        outside in proptest::collection::vec((0usize..6, 0usize..4, any::<bool>()), 0..6),
    ) {
        let key = Key { prorata_temporis: false, ..key };
        let n = pops.len();
        let adh = vec![0; n];
        // The same (member, service) pairs offered in 2026, over two different spans each, plus
        // offers wholly outside the period.
        let layout = |second: bool| {
            let mut offers: Vec<RawOffer> = offered
                .iter()
                .zip(&spans)
                .map(|(&(m, s), span)| {
                    let (from, len) = if second { (span.2, span.3) } else { (span.0, span.1) };
                    let from = from.min(364);
                    (m % n, s, 92 + from, Some(len.min(365 - from)))
                })
                .collect();
            for &(m, s, before) in &outside {
                offers.push(if before { (m % n, s, 0, Some(30)) } else { (m % n, s, 92 + 365, None) });
            }
            offers
        };
        // 2025-10-01 + 92 days = 2026-01-01.
        let (members, services, a_offers) = build(&pops, &adh, &layout(false));
        let b_offers = offers_of(&members, &layout(true));
        let costs = costs(&c);
        let a = allocate(&YEAR, &key, &members, &services, &a_offers, &costs);
        let b = allocate(&YEAR, &key, &members, &services, &b_offers, &costs);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                for (la, lb) in a.lines.iter().zip(&b.lines) {
                    prop_assert_eq!(&la.parts, &lb.parts);
                    prop_assert_eq!((la.n, la.population, la.socle_share), (lb.n, lb.population, lb.socle_share));
                }
            }
            (a, b) => prop_assert_eq!(a.err(), b.err()),
        }
    }
}
