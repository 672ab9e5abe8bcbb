//! French public holidays by département: national ones, Alsace-Moselle's two extra days, and the
//! overseas commemorations of the abolition of slavery.

use chrono::{Datelike, Duration, NaiveDate};

/// Easter Sunday in the Gregorian calendar (anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("computus yields a valid date")
}

/// Whether the département keeps the local law of Alsace-Moselle (Bas-Rhin, Haut-Rhin, Moselle).
fn is_alsace_moselle(department: &str) -> bool {
    matches!(department, "57" | "67" | "68")
}

/// The public holidays of `year` in `department`, with their French names, sorted by date.
pub fn holidays(department: &str, year: i32) -> Vec<(NaiveDate, &'static str)> {
    let ymd = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).expect("fixed holiday date");
    let easter = easter_sunday(year);
    let mut days = vec![
        (ymd(1, 1), "Jour de l'an"),
        (easter + Duration::days(1), "Lundi de Pâques"),
        (ymd(5, 1), "Fête du Travail"),
        (ymd(5, 8), "Victoire 1945"),
        (easter + Duration::days(39), "Ascension"),
        (easter + Duration::days(50), "Lundi de Pentecôte"),
        (ymd(7, 14), "Fête nationale"),
        (ymd(8, 15), "Assomption"),
        (ymd(11, 1), "Toussaint"),
        (ymd(11, 11), "Armistice 1918"),
        (ymd(12, 25), "Noël"),
    ];
    if is_alsace_moselle(department) {
        days.push((easter - Duration::days(2), "Vendredi saint"));
        days.push((ymd(12, 26), "Saint-Étienne"));
    }
    let abolition = match department {
        "971" => Some(ymd(5, 27)),  // Guadeloupe
        "972" => Some(ymd(5, 22)),  // Martinique
        "973" => Some(ymd(6, 10)),  // Guyane
        "974" => Some(ymd(12, 20)), // La Réunion
        "976" => Some(ymd(4, 27)),  // Mayotte
        "977" => Some(ymd(10, 9)),  // Saint-Barthélemy
        "978" => Some(ymd(5, 28)),  // Saint-Martin
        _ => None,
    };
    if let Some(day) = abolition {
        days.push((day, "Abolition de l'esclavage"));
    }
    days.sort();
    days
}

/// Whether `date` is a public holiday in `department`.
pub fn is_public_holiday(department: &str, date: NaiveDate) -> bool {
    holidays(department, date.year()).iter().any(|(d, _)| *d == date)
}

/// A year's holidays computed once, for checking many dates of the same département.
#[derive(Debug, Clone)]
pub struct HolidayCalendar {
    department: String,
    years: Vec<(i32, Vec<NaiveDate>)>,
}

impl HolidayCalendar {
    /// A calendar for one département; years are computed on first use.
    pub fn new(department: &str) -> Self {
        Self {
            department: department.to_string(),
            years: Vec::new(),
        }
    }

    /// Whether `date` is a public holiday there.
    pub fn contains(&mut self, date: NaiveDate) -> bool {
        let year = date.year();
        if let Some((_, days)) = self.years.iter().find(|(y, _)| *y == year) {
            return days.contains(&date);
        }
        let days: Vec<NaiveDate> = holidays(&self.department, year)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        let hit = days.contains(&date);
        self.years.push((year, days));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Known Easter Sundays (published tables), including the extreme dates 22 March and 25 April.
    const EASTER: &[(i32, u32, u32)] = &[
        (1818, 3, 22),
        (1943, 4, 25),
        (2000, 4, 23),
        (2008, 3, 23),
        (2011, 4, 24),
        (2019, 4, 21),
        (2020, 4, 12),
        (2021, 4, 4),
        (2022, 4, 17),
        (2023, 4, 9),
        (2024, 3, 31),
        (2025, 4, 20),
        (2026, 4, 5),
        (2027, 3, 28),
        (2028, 4, 16),
        (2029, 4, 1),
        (2030, 4, 21),
        (2038, 4, 25),
        (2285, 3, 22),
    ];

    #[test]
    fn easter_matches_the_published_table() {
        for &(y, m, day) in EASTER {
            assert_eq!(easter_sunday(y), d(y, m, day), "Easter {y}");
        }
    }

    #[test]
    fn moveable_feasts_of_2026_and_2027() {
        // 2026: Easter 5 April → Good Friday 3 April, Ascension 14 May, Whit Monday 25 May.
        assert!(is_public_holiday("68", d(2026, 4, 3)));
        assert!(!is_public_holiday("75", d(2026, 4, 3)));
        assert!(is_public_holiday("75", d(2026, 4, 6)));
        assert!(is_public_holiday("75", d(2026, 5, 14)));
        assert!(is_public_holiday("75", d(2026, 5, 25)));
        // 2027: Easter 28 March → Ascension 6 May, Whit Monday 17 May.
        assert!(is_public_holiday("2A", d(2027, 5, 6)));
        assert!(is_public_holiday("2B", d(2027, 5, 17)));
        assert!(is_public_holiday("57", d(2027, 3, 26)));
    }

    #[test]
    fn regional_days_only_where_they_apply() {
        assert!(is_public_holiday("67", d(2026, 12, 26)));
        assert!(!is_public_holiday("69", d(2026, 12, 26)));
        assert!(is_public_holiday("974", d(2026, 12, 20)));
        assert!(!is_public_holiday("68", d(2026, 12, 20)));
        assert!(is_public_holiday("976", d(2026, 4, 27)));
        assert!(is_public_holiday("972", d(2026, 5, 22)));
        assert!(is_public_holiday("971", d(2026, 5, 27)));
        assert!(is_public_holiday("973", d(2026, 6, 10)));
        assert!(!is_public_holiday("68", d(2026, 6, 10)));
        // A working Wednesday is no holiday anywhere.
        assert!(!is_public_holiday("68", d(2026, 12, 2)));
    }

    #[test]
    fn calendar_cache_agrees_with_direct_check() {
        let mut cal = HolidayCalendar::new("68");
        let mut day = d(2026, 1, 1);
        while day < d(2028, 1, 1) {
            assert_eq!(cal.contains(day), is_public_holiday("68", day), "{day}");
            day = day.succ_opt().unwrap();
        }
        assert_eq!(holidays("68", 2026).len(), 13);
        assert_eq!(holidays("75", 2026).len(), 11);
    }
}
