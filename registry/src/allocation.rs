//! The convention's cost allocation (Annexe 2), pure and exact: integer cents, shares computed as
//! exact fractions (i128), rounded by the largest-remainder method with a fixed tie-break, so every
//! split adds up to its total to the cent. What the convention leaves open is the period's [`Key`].
//!
//! - Socle de base and hébergement: among the members offering at least one téléservice in the
//!   period, by their number of téléservices n_i and their population, combined as the key says
//!   (`α·n_i/Σn + (1 − α)·pop_i/Σpop`, or `n_i·pop_i/Σ(n·pop)`).
//! - A mutualisable module: among the members offering it in the period, by population.
//! - A specific module: its owner pays it all.
//! - A state mission (the CNI/passport service) and the group's material costs (Art. 3.5: notices,
//!   copies, postage): the EPCI (m2A) pays them all. A state mission counts in nobody's n_i unless
//!   the key counts it in the EPCI's.
//!
//! Without prorata temporis (the default: the Annexe counts téléservices and says nothing of time),
//! n_i counts the téléservices offered at some point of the period and the days do not matter.
//! With it, the days weigh every criterion alike: n_i in days of téléservice, the population by the
//! days the member offers at least one, a module's share by days offered × population. A member's
//! weight on every line is then proportional to its days of service, so one joining half-way pays
//! half of what a full-period twin pays; weighting n_i alone would charge it a full year of
//! population.

pub mod key;
pub use key::{Alpha, Combination, Decision, EpciPopulation, Key, Overrides, PopulationField};

use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What kind of member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberKind {
    Commune,
    Epci,
}

/// A member of the purchasing group.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: Uuid,
    /// Fixed tie-break order (INSEE code for communes, SIREN for the EPCI).
    pub key: String,
    pub name: String,
    pub kind: MemberKind,
    /// The population figure the key's source and field name (for the EPCI, its own figure: the
    /// key's [`EpciPopulation`] decides what counts).
    pub population: i64,
    pub adhesion: NaiveDate,
}

/// How a téléservice is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    Mutualisable,
    Specific,
    StateMission,
}

/// A téléservice of the catalog.
#[derive(Debug, Clone)]
pub struct Service {
    pub code: String,
    pub kind: ServiceKind,
    pub owner: Uuid,
}

/// A member offers a service from `from` to `to` (exclusive; `None`: ongoing).
#[derive(Debug, Clone)]
pub struct Offer {
    pub member: Uuid,
    pub service: String,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// A cost category of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Socle,
    Hebergement,
    Module,
    Specific,
    StateMission,
    /// The group's material costs (Art. 3.5: notices, copies, postage), paid by the EPCI.
    Material,
}

/// One cost line of a period.
#[derive(Debug, Clone)]
pub struct Cost {
    pub category: Category,
    pub service: Option<String>,
    pub label: String,
    pub cents: i64,
}

/// The period's dates; its key is passed apart, so a what-if splits the same period another way.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
}

/// One member's share of one cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    pub category: Category,
    pub label: String,
    pub cents: i64,
}

/// One member's line, with how it was computed.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub member_id: Uuid,
    pub key: String,
    pub name: String,
    /// Days of téléservice offered in the period, summed over the counted téléservices.
    pub service_days: i64,
    /// Days of the period on which the member offered at least one counted téléservice.
    pub active_days: i64,
    /// n_i as the key counts it: téléservices offered in the period, or with prorata temporis
    /// days of téléservice over days of the period (4 decimals).
    pub n: f64,
    /// The population the key counts for this member.
    pub population: i64,
    /// The member's share of the socle and hébergement (0 when it offers nothing; 6 decimals).
    pub socle_share: f64,
    pub parts: Vec<Part>,
    pub total_cents: i64,
}

/// A period's allocation.
#[derive(Debug, Clone, Serialize)]
pub struct Allocation {
    pub period_days: i64,
    pub lines: Vec<Line>,
    pub total_cents: i64,
}

/// A cost nobody can be charged for, that names an unknown service, or too large to split exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("aucun membre ne peut payer « {0} »")]
    NoPayer(String),
    #[error("le coût « {0} » désigne un téléservice inconnu ou d'un autre type")]
    BadService(String),
    #[error("montants ou populations trop grands pour un calcul exact de « {0} »")]
    TooLarge(String),
}

/// Days of `[from, to)` inside `[start, end)`.
fn overlap_days(from: NaiveDate, to: NaiveDate, start: NaiveDate, end: NaiveDate) -> i64 {
    let (a, b) = (from.max(start), to.min(end));
    (b - a).num_days().max(0)
}

/// Days a member offered a service in the period (overlapping offers counted once; not before adhesion).
fn service_days(p: &Period, m: &Member, offers: &[&Offer]) -> i64 {
    let mut spans: Vec<(NaiveDate, NaiveDate)> = offers
        .iter()
        .map(|o| {
            (
                o.from.max(m.adhesion).max(p.start),
                o.to.unwrap_or(p.end).min(p.end),
            )
        })
        .filter(|(a, b)| a < b)
        .collect();
    spans.sort();
    let mut days = 0;
    let mut cur: Option<(NaiveDate, NaiveDate)> = None;
    for (a, b) in spans {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                days += overlap_days(ca, cb, p.start, p.end);
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((ca, cb)) = cur {
        days += overlap_days(ca, cb, p.start, p.end);
    }
    days
}

/// What a member offered in the period, as the key counts it.
struct Presence<'a> {
    /// Days each counted téléservice was offered in the period (only those offered at all).
    services: BTreeMap<&'a str, i64>,
    /// Days with at least one counted téléservice.
    active_days: i64,
}

impl Presence<'_> {
    /// The numerator of n_i: téléservices offered, or with prorata their days.
    fn n(&self, prorata: bool) -> i128 {
        if prorata {
            self.services.values().map(|&d| i128::from(d)).sum()
        } else {
            self.services.len() as i128
        }
    }
}

/// The offers that count in a member's n_i: its own, except state missions, which count in nobody's
/// unless the key counts them in the EPCI's (then every member's offer of one puts it on the
/// platform, where the EPCI runs it for the State).
fn presence<'a>(
    period: &Period,
    key: &Key,
    m: &Member,
    kind_of: &BTreeMap<&str, &Service>,
    offers: &'a [Offer],
) -> Presence<'a> {
    let counted = |o: &&Offer| match kind_of.get(o.service.as_str()).map(|s| s.kind) {
        Some(ServiceKind::StateMission) => key.state_mission_in_epci_n && m.kind == MemberKind::Epci,
        Some(_) => o.member == m.id,
        None => false,
    };
    let mine: Vec<&Offer> = offers.iter().filter(counted).collect();
    let mut by_service: BTreeMap<&str, Vec<&Offer>> = BTreeMap::new();
    for o in &mine {
        by_service.entry(o.service.as_str()).or_default().push(o);
    }
    Presence {
        services: by_service
            .into_iter()
            .map(|(code, os)| (code, service_days(period, m, &os)))
            .filter(|(_, days)| *days > 0)
            .collect(),
        active_days: service_days(period, m, &mine),
    }
}

/// One criterion of a split: each member's weight, and the criterion's coefficient (thousandths).
struct Term {
    coef: i128,
    weights: Vec<(usize, i128)>,
}

/// Multiplication that refuses to overflow rather than split wrong.
fn mul(a: i128, b: i128, label: &str) -> Result<i128, AllocError> {
    a.checked_mul(b)
        .ok_or_else(|| AllocError::TooLarge(label.to_string()))
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// Each member's exact share `num_i / den` of terms combined by their coefficients:
/// `share_i = Σ_t c_t·w_it/W_t / Σ_t c_t`, over a common denominator, reduced. Terms of no weight
/// or no coefficient are left out; callers keep at least one of each.
fn exact_shares(terms: &[Term], label: &str) -> Result<(Vec<(usize, i128)>, i128), AllocError> {
    let terms: Vec<(&Term, i128)> = terms
        .iter()
        .map(|t| (t, t.weights.iter().map(|w| w.1).sum::<i128>()))
        .filter(|(t, total)| t.coef > 0 && *total > 0)
        .collect();
    let mut nums: BTreeMap<usize, i128> = BTreeMap::new();
    let mut den: i128 = terms.iter().map(|(t, _)| t.coef).sum();
    for (_, total) in &terms {
        den = mul(den, *total, label)?;
    }
    for (i, (t, _)) in terms.iter().enumerate() {
        let mut others: i128 = 1;
        for (_, total) in terms.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, x)| x) {
            others = mul(others, *total, label)?;
        }
        let factor = mul(t.coef, others, label)?;
        for &(m, w) in &t.weights {
            let add = mul(w, factor, label)?;
            let n = nums.entry(m).or_insert(0);
            *n = n
                .checked_add(add)
                .ok_or_else(|| AllocError::TooLarge(label.to_string()))?;
        }
    }
    let g = nums.values().fold(den, |g, &n| gcd(g, n)).max(1);
    Ok((nums.into_iter().map(|(m, n)| (m, n / g)).collect(), den / g))
}

/// One member's weight in a split: `num / den`, and what breaks ties.
#[derive(Clone, Copy)]
struct Weight<'a> {
    idx: usize,
    num: i128,
    population: i64,
    /// n_i's numerator as the key counts it (téléservices, or their days).
    services: i128,
    key: &'a str,
}

/// Splits `total` by exact weights `num_i / den` (largest remainder). Ties on the remainder go to
/// the larger weight, then the larger population, then more téléservices (as the key counts them),
/// then the smaller key: a fixed order that never makes a member with more population or services
/// pay less, and that looks at nothing the key ignores.
fn split(
    total: i64,
    weights: &[Weight<'_>],
    den: i128,
    label: &str,
) -> Result<Vec<(usize, i64)>, AllocError> {
    let t = i128::from(total);
    let mut shares: Vec<(Weight<'_>, i128, i128)> = Vec::with_capacity(weights.len());
    for w in weights {
        let x = mul(t, w.num, label)?;
        shares.push((*w, x / den, x % den));
    }
    let given: i128 = shares.iter().map(|s| s.1).sum();
    let mut left = t - given;
    shares.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.0.num.cmp(&a.0.num))
            .then(b.0.population.cmp(&a.0.population))
            .then(b.0.services.cmp(&a.0.services))
            .then(a.0.key.cmp(b.0.key))
    });
    for s in &mut shares {
        if left == 0 {
            break;
        }
        s.1 += 1;
        left -= 1;
    }
    Ok(shares
        .into_iter()
        .map(|s| (s.0.idx, i64::try_from(s.1).unwrap_or(i64::MAX)))
        .collect())
}

/// The population each member counts under the key; the EPCI's follows the key's rule.
fn populations(key: &Key, members: &[Member], presences: &[Presence<'_>]) -> Vec<i64> {
    // Saturating: figures beyond i64 are refused later as too large to split, not a panic here.
    let communes = |only_without_service: bool| {
        members
            .iter()
            .zip(presences)
            .filter(|(m, p)| m.kind == MemberKind::Commune && (!only_without_service || p.active_days == 0))
            .fold(0i64, |sum, (m, _)| sum.saturating_add(m.population))
    };
    let epci = match key.epci_population {
        EpciPopulation::CommunesSum => communes(false),
        EpciPopulation::OtherCommunes => communes(true),
        EpciPopulation::None => 0,
    };
    members
        .iter()
        .map(|m| match m.kind {
            MemberKind::Epci => epci,
            MemberKind::Commune => m.population,
        })
        .collect()
}

/// What the key counts of each member, and the criteria of the socle and hosting split; built
/// apart from [`allocate`] so that the tests can check the weights themselves.
struct Splits<'a> {
    presences: Vec<Presence<'a>>,
    population: Vec<i64>,
    /// n_i's numerator per member.
    n: Vec<i128>,
    socle: Vec<Term>,
}

impl<'a> Splits<'a> {
    fn new(
        period: &Period,
        key: &Key,
        members: &[Member],
        kind_of: &BTreeMap<&str, &Service>,
        offers: &'a [Offer],
    ) -> Self {
        let prorata = key.prorata_temporis;
        let presences: Vec<Presence<'a>> = members
            .iter()
            .map(|m| presence(period, key, m, kind_of, offers))
            .collect();
        let population = populations(key, members, &presences);
        let n: Vec<i128> = presences.iter().map(|p| p.n(prorata)).collect();
        let eligible: Vec<usize> = (0..members.len())
            .filter(|&i| presences[i].active_days > 0)
            .collect();
        let by = |f: &dyn Fn(usize) -> i128| eligible.iter().map(|&i| (i, f(i))).collect::<Vec<_>>();
        let n_term = |coef: i128| Term {
            coef,
            weights: by(&|i| n[i]),
        };
        let has_weight = |t: &Term| t.weights.iter().any(|w| w.1 > 0);
        let socle = match key.combination {
            Combination::Sum => {
                // With prorata, the population counts for the days the member is on the platform.
                let pop = Term {
                    coef: 1000 - i128::from(key.alpha_permille.permille()),
                    weights: by(&|i| {
                        i128::from(population[i])
                            * if prorata {
                                i128::from(presences[i].active_days)
                            } else {
                                1
                            }
                    }),
                };
                if has_weight(&pop) {
                    vec![n_term(i128::from(key.alpha_permille.permille())), pop]
                } else {
                    vec![n_term(1000)]
                }
            }
            Combination::Product => {
                // Time enters once, through n_i: a member half the period weighs half, not a quarter.
                let product = Term {
                    coef: 1000,
                    weights: by(&|i| n[i] * i128::from(population[i])),
                };
                if has_weight(&product) {
                    vec![product]
                } else {
                    vec![n_term(1000)]
                }
            }
        };
        Self {
            presences,
            population,
            n,
            socle,
        }
    }

    /// A mutualisable module among the members offering it: by population, times its days with
    /// prorata; by the days alone (or equally) when none of them has a population.
    fn module(&self, key: &Key, code: &str) -> Term {
        let days: Vec<(usize, i128)> = self
            .presences
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.services.get(code).map(|&d| (i, i128::from(d))))
            .collect();
        let time = |d: i128| if key.prorata_temporis { d } else { 1 };
        let weights: Vec<(usize, i128)> = days
            .iter()
            .map(|&(i, d)| (i, i128::from(self.population[i]) * time(d)))
            .collect();
        Term {
            coef: 1000,
            weights: if weights.iter().any(|w| w.1 > 0) {
                weights
            } else {
                days.iter().map(|&(i, d)| (i, time(d))).collect()
            },
        }
    }
}

/// Allocates every cost of the period among the members, as the key says.
pub fn allocate(
    period: &Period,
    key: &Key,
    members: &[Member],
    services: &[Service],
    offers: &[Offer],
    costs: &[Cost],
) -> Result<Allocation, AllocError> {
    let d = (period.end - period.start).num_days().max(1);
    let kind_of: BTreeMap<&str, &Service> = services.iter().map(|s| (s.code.as_str(), s)).collect();
    let splits = Splits::new(period, key, members, &kind_of, offers);
    let weights = |(i, num): (usize, i128)| Weight {
        idx: i,
        num,
        population: splits.population[i],
        services: splits.n[i],
        key: &members[i].key,
    };
    let (socle_nums, socle_den) = exact_shares(&splits.socle, "socle et hébergement")?;
    let socle_w: Vec<Weight<'_>> = socle_nums.iter().copied().map(weights).collect();
    let epci = members.iter().position(|m| m.kind == MemberKind::Epci);
    let mut parts: Vec<Vec<Part>> = vec![Vec::new(); members.len()];
    for c in costs {
        let part = |cents: i64| Part {
            category: c.category,
            label: c.label.clone(),
            cents,
        };
        let shares: Vec<(usize, i64)> = match c.category {
            Category::Socle | Category::Hebergement => {
                if socle_w.is_empty() {
                    return Err(AllocError::NoPayer(c.label.clone()));
                }
                split(c.cents, &socle_w, socle_den, &c.label)?
            }
            Category::Module => {
                let code = c
                    .service
                    .as_deref()
                    .ok_or_else(|| AllocError::BadService(c.label.clone()))?;
                if kind_of.get(code).map(|s| s.kind) != Some(ServiceKind::Mutualisable) {
                    return Err(AllocError::BadService(c.label.clone()));
                }
                let term = splits.module(key, code);
                if term.weights.is_empty() {
                    return Err(AllocError::NoPayer(c.label.clone()));
                }
                let (nums, den) = exact_shares(&[term], &c.label)?;
                let w: Vec<Weight<'_>> = nums.into_iter().map(weights).collect();
                split(c.cents, &w, den, &c.label)?
            }
            Category::Specific => {
                let owner = c
                    .service
                    .as_deref()
                    .and_then(|code| kind_of.get(code))
                    .filter(|s| s.kind == ServiceKind::Specific)
                    .map(|s| s.owner)
                    .ok_or_else(|| AllocError::BadService(c.label.clone()))?;
                let i = members
                    .iter()
                    .position(|m| m.id == owner)
                    .ok_or_else(|| AllocError::NoPayer(c.label.clone()))?;
                vec![(i, c.cents)]
            }
            Category::StateMission | Category::Material => {
                vec![(epci.ok_or_else(|| AllocError::NoPayer(c.label.clone()))?, c.cents)]
            }
        };
        for (i, cents) in shares {
            parts[i].push(part(cents));
        }
    }
    let mut lines: Vec<Line> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let p = &splits.presences[i];
            let share = socle_nums
                .iter()
                .find(|w| w.0 == i)
                .map(|w| w.1 as f64 / socle_den as f64)
                .unwrap_or(0.0);
            let n = if key.prorata_temporis {
                (splits.n[i] as f64 / d as f64 * 10_000.0).round() / 10_000.0
            } else {
                splits.n[i] as f64
            };
            Line {
                member_id: m.id,
                key: m.key.clone(),
                name: m.name.clone(),
                service_days: p.services.values().sum(),
                active_days: p.active_days,
                n,
                population: splits.population[i],
                socle_share: (share * 1_000_000.0).round() / 1_000_000.0,
                total_cents: parts[i].iter().map(|p| p.cents).sum(),
                parts: std::mem::take(&mut parts[i]),
            }
        })
        .collect();
    lines.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Allocation {
        period_days: d,
        total_cents: lines.iter().map(|l| l.total_cents).sum(),
        lines,
    })
}

#[cfg(test)]
mod tests;
