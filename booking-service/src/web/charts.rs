//! Charts drawn on the server as inline SVG: no script (the CSP allows none), no library, no
//! request for anything else. Each chart is an image named by its heading (`role="img"`,
//! `aria-labelledby`) whose figures the page then gives again in a table, so a screen reader
//! reads the numbers rather than the drawing.

use maud::{html, Markup};

/// One bar: what it stands for, its length, and the figure written after it.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    /// The figure as read ("12", "45 %").
    pub text: String,
}

/// Drawing units: the width of the whole chart, where bars start, the room left for the figure
/// after the longest bar, and each row's height. The drawing scales to the page's width.
/// Sized so that, at a phone's width, the text is drawn at about the page's own size.
const WIDTH: f64 = 420.0;
const LABEL_WIDTH: f64 = 150.0;
const FIGURE_ROOM: f64 = 70.0;
const ROW: f64 = 30.0;

/// A horizontal bar chart (reads on a phone as well as on a desktop: labels on the left, one row
/// per bar). `labelled_by` is the id of the heading that names it; `max` is the value of a full
/// bar (the largest value when `None`; bars never overflow).
pub fn bar_chart(labelled_by: &str, bars: &[Bar], max: Option<f64>) -> Markup {
    let largest = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let full = max.unwrap_or(largest).max(f64::EPSILON);
    let span = WIDTH - LABEL_WIDTH - FIGURE_ROOM;
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    html! {
        svg.chart role="img" aria-labelledby=(labelled_by) xmlns="http://www.w3.org/2000/svg"
            viewBox={ "0 0 " (WIDTH) " " (height) } width="100%" preserveAspectRatio="xMinYMin meet" {
            // The axis the bars start from.
            line x1=(LABEL_WIDTH) y1="0" x2=(LABEL_WIDTH) y2=(height) stroke="#1a1a1a" stroke-width="2" {}
            @for (i, bar) in bars.iter().enumerate() {
                @let y = ROW * i as f64 + 4.0;
                @let length = (bar.value.max(0.0) / full).min(1.0) * span;
                text x=(LABEL_WIDTH - 8.0) y=(y + ROW * 0.62) text-anchor="end" font-size="15" fill="#1a1a1a" {
                    (bar.label)
                }
                rect x=(LABEL_WIDTH) y=(y + 4.0) width=(format!("{length:.1}")) height=(ROW - 10.0) fill="#1d4ed8" {}
                text x=(LABEL_WIDTH + length + 6.0) y=(y + ROW * 0.62) font-size="15" fill="#1a1a1a" {
                    (bar.text)
                }
            }
        }
    }
}

/// A share as a French percentage: "12,5 %" (one decimal, comma, non-breaking space).
pub fn percent(rate: f64) -> String {
    format!("{:.1}\u{a0}%", rate * 100.0).replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_largest_and_the_chart_is_a_named_image() {
        let bars = [
            Bar {
                label: "DR 1".into(),
                value: 2.0,
                text: "2".into(),
            },
            Bar {
                label: "<DR 2>".into(),
                value: 4.0,
                text: "4".into(),
            },
        ];
        let svg = bar_chart("titre-postes", &bars, None).into_string();
        assert!(
            svg.starts_with("<svg class=\"chart\" role=\"img\" aria-labelledby=\"titre-postes\""),
            "{svg}"
        );
        let span = WIDTH - LABEL_WIDTH - FIGURE_ROOM;
        assert!(svg.contains(&format!("width=\"{:.1}\"", span / 2.0)), "{svg}");
        assert!(svg.contains(&format!("width=\"{span:.1}\"")), "{svg}");
        assert!(svg.contains("&lt;DR 2&gt;") && !svg.contains("<DR 2>"));
        // A value above the full bar stays within the drawing.
        let over = bar_chart("t", &bars, Some(1.0)).into_string();
        assert!(!over.contains(&format!("width=\"{:.1}\"", span * 4.0)));
    }

    #[test]
    fn percentages_are_written_the_french_way() {
        assert_eq!(percent(0.125), "12,5\u{a0}%");
        assert_eq!(percent(0.0), "0,0\u{a0}%");
    }
}
