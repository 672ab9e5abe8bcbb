//! Half-open instant intervals `[start, end)` and the few set operations the slot engine needs.

use chrono::{DateTime, Utc};

/// A half-open interval of instants `[start, end)`: back-to-back intervals do not overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    /// First instant inside the interval.
    pub start: DateTime<Utc>,
    /// First instant after the interval.
    pub end: DateTime<Utc>,
}

impl Interval {
    /// Builds an interval; empty or reversed bounds give `None`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// Whether the two intervals share at least one instant.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Sorts and merges overlapping or touching intervals into a canonical, disjoint, sorted list.
pub fn normalize(mut items: Vec<Interval>) -> Vec<Interval> {
    items.sort_unstable();
    let mut out: Vec<Interval> = Vec::with_capacity(items.len());
    for iv in items {
        match out.last_mut() {
            Some(last) if iv.start <= last.end => {
                if iv.end > last.end {
                    last.end = iv.end;
                }
            }
            _ => out.push(iv),
        }
    }
    out
}

/// `a − b` for two normalized lists; the result is normalized.
pub fn subtract(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for iv in a {
        let mut cur = iv.start;
        // Skip the cuts that end before this interval starts; they cannot matter to later ones either.
        while j < b.len() && b[j].end <= iv.start {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].start < iv.end {
            if b[k].start > cur {
                out.push(Interval {
                    start: cur,
                    end: b[k].start,
                });
            }
            if b[k].end > cur {
                cur = b[k].end;
            }
            k += 1;
        }
        if cur < iv.end {
            out.push(Interval {
                start: cur,
                end: iv.end,
            });
        }
    }
    out
}

/// Whether a normalized list covers `iv` entirely with a single one of its intervals.
pub fn covers(set: &[Interval], iv: &Interval) -> bool {
    // Index of the first interval starting after iv.start; the candidate is the one before it.
    let idx = set.partition_point(|s| s.start <= iv.start);
    idx > 0 && set[idx - 1].end >= iv.end
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn iv(a: i64, b: i64) -> Interval {
        Interval::new(Utc.timestamp_opt(a, 0).unwrap(), Utc.timestamp_opt(b, 0).unwrap()).unwrap()
    }

    #[test]
    fn normalize_merges_touching_and_overlapping() {
        let n = normalize(vec![iv(10, 20), iv(0, 5), iv(5, 8), iv(15, 30)]);
        assert_eq!(n, vec![iv(0, 8), iv(10, 30)]);
    }

    #[test]
    fn subtract_cuts_holes_and_edges() {
        let a = vec![iv(0, 100), iv(200, 300)];
        let b = vec![iv(-10, 10), iv(50, 60), iv(90, 210), iv(250, 260)];
        assert_eq!(
            subtract(&a, &b),
            vec![iv(10, 50), iv(60, 90), iv(210, 250), iv(260, 300)]
        );
    }

    #[test]
    fn covers_needs_one_interval() {
        let s = vec![iv(0, 10), iv(10, 20)];
        // Not normalized on purpose: two touching fragments do not cover a range across them.
        assert!(!covers(&s, &iv(5, 15)));
        assert!(covers(&normalize(s), &iv(5, 15)));
        assert!(!covers(&[iv(0, 10)], &iv(5, 11)));
        assert!(covers(&[iv(0, 10)], &iv(0, 10)));
    }
}
