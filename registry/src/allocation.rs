//! The convention's cost allocation (Annexe 2), pure and exact: integer cents, shares computed as
//! exact fractions (i128), rounded by the largest-remainder method with a fixed tie-break, so every
//! split adds up to its total to the cent.
//!
//! - Socle de base and hébergement: among members offering at least one téléservice in the period,
//!   `share_i = α·n_i/Σn + (1 − α)·pop_i/Σpop`, where n_i counts the member's téléservices weighted by
//!   the fraction of the period each was offered (from its start, or the member's adhesion if later).
//! - A mutualisable module: among the members offering it in the period, by population.
//! - A specific module: its owner pays it all.
//! - A state mission (the CNI/passport service): the EPCI (m2A) pays it all; it counts in nobody's n_i.

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
    /// The population the period's key says to use.
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
}

/// One cost line of a period.
#[derive(Debug, Clone)]
pub struct Cost {
    pub category: Category,
    pub service: Option<String>,
    pub label: String,
    pub cents: i64,
}

/// The period and its key.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
    /// α in thousandths.
    pub alpha_permille: i64,
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
    /// Days of téléservice offered in the period (Σ over services), the numerator of n_i.
    pub service_days: i64,
    /// n_i: time-weighted number of téléservices.
    pub n: f64,
    pub population: i64,
    /// The member's share of the socle and hébergement (0 when it offers nothing).
    pub socle_share: f64,
    pub parts: Vec<Part>,
    pub total_cents: i64,
}

/// A period's allocation.
#[derive(Debug, Clone, Serialize)]
pub struct Allocation {
    pub period_days: i64,
    pub alpha_permille: i64,
    pub lines: Vec<Line>,
    pub total_cents: i64,
}

/// A cost nobody can be charged for, or that names an unknown service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("no member can be charged for « {0} »")]
    NoPayer(String),
    #[error("cost « {0} » names an unknown or mismatched téléservice")]
    BadService(String),
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

/// One member's weight in a split: `num / den`, and what breaks ties.
#[derive(Clone, Copy)]
struct Weight<'a> {
    idx: usize,
    num: i128,
    population: i64,
    days: i64,
    key: &'a str,
}

/// Splits `total` by exact weights `num_i / den` (largest remainder). Ties on the remainder go to
/// the larger weight, then the larger population, then more service days, then the smaller key:
/// a fixed order that never makes a member with more population or services pay less.
fn split(total: i64, weights: &[Weight<'_>], den: i128) -> Vec<(usize, i64)> {
    let t = i128::from(total);
    let mut shares: Vec<(Weight<'_>, i128, i128)> = weights
        .iter()
        .map(|w| (*w, t * w.num / den, t * w.num % den))
        .collect();
    let given: i128 = shares.iter().map(|s| s.1).sum();
    let mut left = t - given;
    shares.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.0.num.cmp(&a.0.num))
            .then(b.0.population.cmp(&a.0.population))
            .then(b.0.days.cmp(&a.0.days))
            .then(a.0.key.cmp(b.0.key))
    });
    for s in &mut shares {
        if left == 0 {
            break;
        }
        s.1 += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|s| (s.0.idx, i64::try_from(s.1).unwrap_or(i64::MAX)))
        .collect()
}

/// Allocates every cost of the period among the members.
pub fn allocate(
    period: &Period,
    members: &[Member],
    services: &[Service],
    offers: &[Offer],
    costs: &[Cost],
) -> Result<Allocation, AllocError> {
    let d = (period.end - period.start).num_days().max(1);
    let kind_of: BTreeMap<&str, &Service> = services.iter().map(|s| (s.code.as_str(), s)).collect();
    let counted = |o: &&Offer| {
        kind_of
            .get(o.service.as_str())
            .is_some_and(|s| s.kind != ServiceKind::StateMission)
    };
    let days: Vec<i64> = members
        .iter()
        .map(|m| {
            let mine: Vec<&Offer> = offers
                .iter()
                .filter(|o| o.member == m.id)
                .filter(counted)
                .collect();
            // n_i sums over services: each service's days, counted once per service.
            let mut by_service: BTreeMap<&str, Vec<&Offer>> = BTreeMap::new();
            for o in mine {
                by_service.entry(o.service.as_str()).or_default().push(o);
            }
            by_service.values().map(|os| service_days(period, m, os)).sum()
        })
        .collect();
    let eligible: Vec<usize> = (0..members.len()).filter(|&i| days[i] > 0).collect();
    let sum_days: i128 = eligible.iter().map(|&i| i128::from(days[i])).sum();
    let sum_pop: i128 = eligible.iter().map(|&i| i128::from(members[i].population)).sum();
    let a = i128::from(period.alpha_permille.clamp(0, 1000));
    // Socle weights as exact fractions over a common denominator.
    let weight = |i: usize, num: i128| Weight {
        idx: i,
        num,
        population: members[i].population,
        days: days[i],
        key: &members[i].key,
    };
    let (socle_w, socle_den): (Vec<Weight<'_>>, i128) = if sum_pop > 0 {
        (
            eligible
                .iter()
                .map(|&i| {
                    weight(
                        i,
                        a * i128::from(days[i]) * sum_pop
                            + (1000 - a) * i128::from(members[i].population) * sum_days,
                    )
                })
                .collect(),
            1000 * sum_days * sum_pop,
        )
    } else {
        (
            eligible.iter().map(|&i| weight(i, i128::from(days[i]))).collect(),
            sum_days,
        )
    };
    let mut parts: Vec<Vec<Part>> = vec![Vec::new(); members.len()];
    let mut add = |i: usize, c: &Cost, cents: i64| {
        parts[i].push(Part {
            category: c.category,
            label: c.label.clone(),
            cents,
        });
    };
    for c in costs {
        match c.category {
            Category::Socle | Category::Hebergement => {
                if eligible.is_empty() {
                    return Err(AllocError::NoPayer(c.label.clone()));
                }
                for (i, cents) in split(c.cents, &socle_w, socle_den) {
                    add(i, c, cents);
                }
            }
            Category::Module => {
                let code = c
                    .service
                    .as_deref()
                    .ok_or_else(|| AllocError::BadService(c.label.clone()))?;
                if kind_of.get(code).map(|s| s.kind) != Some(ServiceKind::Mutualisable) {
                    return Err(AllocError::BadService(c.label.clone()));
                }
                let users: Vec<usize> = (0..members.len())
                    .filter(|&i| {
                        let os: Vec<&Offer> = offers
                            .iter()
                            .filter(|o| o.member == members[i].id && o.service == code)
                            .collect();
                        service_days(period, &members[i], &os) > 0
                    })
                    .collect();
                if users.is_empty() {
                    return Err(AllocError::NoPayer(c.label.clone()));
                }
                let pop: i128 = users.iter().map(|&i| i128::from(members[i].population)).sum();
                let w: Vec<Weight<'_>> = users
                    .iter()
                    .map(|&i| {
                        weight(
                            i,
                            if pop > 0 {
                                i128::from(members[i].population)
                            } else {
                                1
                            },
                        )
                    })
                    .collect();
                let den = if pop > 0 { pop } else { users.len() as i128 };
                for (i, cents) in split(c.cents, &w, den) {
                    add(i, c, cents);
                }
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
                add(i, c, c.cents);
            }
            Category::StateMission => {
                let i = members
                    .iter()
                    .position(|m| m.kind == MemberKind::Epci)
                    .ok_or_else(|| AllocError::NoPayer(c.label.clone()))?;
                add(i, c, c.cents);
            }
        }
    }
    let mut lines: Vec<Line> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let share = socle_w
                .iter()
                .find(|w| w.idx == i)
                .map(|w| w.num as f64 / socle_den as f64)
                .unwrap_or(0.0);
            let total = parts[i].iter().map(|p| p.cents).sum();
            Line {
                member_id: m.id,
                key: m.key.clone(),
                name: m.name.clone(),
                service_days: days[i],
                n: (days[i] as f64 / d as f64 * 10_000.0).round() / 10_000.0,
                population: m.population,
                socle_share: (share * 1_000_000.0).round() / 1_000_000.0,
                parts: std::mem::take(&mut parts[i]),
                total_cents: total,
            }
        })
        .collect();
    lines.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Allocation {
        period_days: d,
        alpha_permille: period.alpha_permille,
        total_cents: lines.iter().map(|l| l.total_cents).sum(),
        lines,
    })
}

#[cfg(test)]
mod tests;
