//! Worked examples computed by hand, then properties over random groups.

use super::*;
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

const YEAR: Period = Period {
    start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    end: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
    alpha_permille: 500,
};

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
    let a = allocate(&YEAR, &g.members(), &g.services, &g.offers, &costs).unwrap();
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
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Socle, None, 10_000_000)],
    )
    .unwrap();
    let after = allocate(
        &YEAR,
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

#[test]
fn a_service_started_on_1_july_counts_half_and_so_does_a_member_joining_then() {
    // 1 July → 31 December 2026: 184 of 365 days, n = 0.5041 (half a year, to the day).
    let g = group();
    let mut late = member("68005", MemberKind::Commune, 1000);
    let mut offers = g.offers.clone();
    offers.push(offer(&g.z, "s2", d(2026, 7, 1)));
    // A member joining on 1 July with a service running since January counts from its adhesion.
    late.adhesion = d(2026, 7, 1);
    offers.push(offer(&late, "s1", d(2026, 1, 1)));
    let mut members = g.members();
    members.push(late.clone());
    let a = allocate(
        &YEAR,
        &members,
        &g.services,
        &offers,
        &[cost(Category::Socle, None, 1_000_000)],
    )
    .unwrap();
    assert_eq!(line(&a, &g.z).service_days, 184);
    assert_eq!(line(&a, &g.z).n, 0.5041);
    assert_eq!(line(&a, &late).service_days, 184);
    // Z now pays: Σdays = 365 (A) + 365 (B) + 730 (C) + 184 (Z) + 184 (late) = 1,828;
    // Σpop = 1,000 + 3,000 + 6,000 + 500 + 1,000 = 11,500 (E offers nothing: not counted).
    // Z: 0.5·184/1,828 + 0.5·500/11,500 = 0.0503282… + 0.0217391… = 0.0720673… → 72,067 cents.
    assert_eq!(part(&a, &g.z, Category::Socle), 72_067);
    assert_eq!(a.total_cents, 1_000_000);
}

#[test]
fn costs_nobody_can_pay_are_errors_not_silent() {
    let g = group();
    let err = allocate(
        &YEAR,
        std::slice::from_ref(&g.z),
        &g.services,
        &[],
        &[cost(Category::Socle, None, 10)],
    )
    .unwrap_err();
    assert!(matches!(err, AllocError::NoPayer(_)));
    let err = allocate(
        &YEAR,
        &g.members(),
        &g.services,
        &g.offers,
        &[cost(Category::Module, Some("s3"), 10)],
    )
    .unwrap_err();
    assert!(matches!(err, AllocError::BadService(_)));
}

prop_compose! {
    fn arb_offer(members: usize)(m in 0..members, s in 0usize..3, from in 0i64..500, len in proptest::option::of(1i64..400)) -> (usize, usize, i64, Option<i64>) {
        (m, s, from, len)
    }
}

/// (populations, adhesion offsets, offers, α, costs) of a random group.
type Scenario = (
    Vec<i64>,
    Vec<i64>,
    Vec<(usize, usize, i64, Option<i64>)>,
    i64,
    Vec<i64>,
);

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..7).prop_flat_map(|n| {
        (
            proptest::collection::vec(0i64..200_000, n),
            proptest::collection::vec(0i64..400, n),
            proptest::collection::vec(arb_offer(n), 1..12),
            0i64..=1000,
            proptest::collection::vec(0i64..50_000_000, 4),
        )
    })
}

fn build(
    pops: &[i64],
    adhesions: &[i64],
    offers: &[(usize, usize, i64, Option<i64>)],
    alpha: i64,
) -> (Vec<Member>, Vec<Service>, Vec<Offer>, Period) {
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
    ];
    let codes = ["m0", "m1", "sp"];
    let offers = offers
        .iter()
        .map(|&(m, s, from, len)| Offer {
            member: members[m].id,
            service: codes[s].into(),
            from: base + chrono::Duration::days(from),
            to: len.map(|l| base + chrono::Duration::days(from + l)),
        })
        .collect();
    (
        members,
        services,
        offers,
        Period {
            alpha_permille: alpha,
            ..YEAR
        },
    )
}

fn costs(c: &[i64]) -> Vec<Cost> {
    vec![
        cost(Category::Socle, None, c[0]),
        cost(Category::Hebergement, None, c[1]),
        cost(Category::Module, Some("m0"), c[2]),
        cost(Category::StateMission, Some("cni"), c[3]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn sums_are_exact_to_the_cent_and_no_share_is_negative((pops, adh, offers, alpha, c) in scenario()) {
        let (members, services, offers, period) = build(&pops, &adh, &offers, alpha);
        let costs = costs(&c);
        match allocate(&period, &members, &services, &offers, &costs) {
            Ok(a) => {
                prop_assert_eq!(a.total_cents, c.iter().sum::<i64>());
                for cat in [Category::Socle, Category::Hebergement, Category::Module, Category::StateMission] {
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
    fn more_population_or_more_services_never_pays_less((pops, adh, offers, alpha, c) in scenario(), extra_pop in 1i64..50_000, which in 0usize..2) {
        let (mut members, services, mut offers, period) = build(&pops, &adh, &offers, alpha);
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
        let a = allocate(&period, &members, &services, &offers, &costs(&c)).unwrap();
        prop_assert!(line(&a, &y).total_cents >= line(&a, &x).total_cents, "{:?}\n{:?}", line(&a, &x), line(&a, &y));
    }
}
