//! One cell of the CSV files opened by spreadsheets (the staff export, the registry's allocations):
//! semicolon-separated, so the cell is quoted when it holds the separator, a quote or a line break,
//! and a leading `=`, `+`, `-`, `@`, tab or carriage return is neutralised with an apostrophe so a
//! name typed by a citizen can never run as a formula (OWASP "CSV injection").

/// `s` as one cell, safe from formula injection and from the separator.
pub fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(cell("Zoé Dupont"), "Zoé Dupont");
        assert_eq!(cell(""), "");
    }

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+33 6"), "'+33 6");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\t=1"), "'\t=1");
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        assert_eq!(cell("a;b"), "\"a;b\"");
        assert_eq!(cell("dite \"Mimi\""), "\"dite \"\"Mimi\"\"\"");
        assert_eq!(cell("deux\nlignes"), "\"deux\nlignes\"");
        assert_eq!(cell("=a;b"), "\"'=a;b\"");
    }
}
