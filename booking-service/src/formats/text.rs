//! People's text (names, reasons, addresses, labels) inside HTML: the pages and the HTML part of
//! emails. Templates escape by construction; [`Text`] is how a template writes such a value so
//! that every HTML output of the service escapes the same five characters, `& < > " '`.
//!
//! maud alone escapes `& < > "`, which is enough inside its own double-quoted attributes. The
//! apostrophe is written `&#39;` as well because French text is full of them ("Carte nationale
//! d'identité") and the service has always written it so: the bytes of an email or a page do not
//! change with the move to templates, and a value stays safe even inside a `'`-quoted attribute.

use maud::Render;

/// A value for a maud template, escaped as `& < > " '` (write `(Text(&name))`).
#[derive(Debug, Clone, Copy)]
pub struct Text<'a>(pub &'a str);

impl Render for Text<'_> {
    fn render_to(&self, buffer: &mut String) {
        escape_html_into(self.0, buffer);
    }
}

/// `s` escaped for HTML text or a quoted attribute (for code that does not go through a template).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_html_into(s, &mut out);
    out
}

fn escape_html_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{html_escape, Text};
    use maud::html;

    #[test]
    fn the_five_characters_are_escaped() {
        assert_eq!(
            html_escape(r#"<a href="x">Zoé & d'autres</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Zoé &amp; d&#39;autres&lt;/a&gt;"
        );
    }

    #[test]
    fn a_template_writes_text_like_the_function() {
        let name = "<script>d'identité";
        let m = html! { p title=(Text(name)) { (Text(name)) } }.into_string();
        let e = html_escape(name);
        assert_eq!(m, format!("<p title=\"{e}\">{e}</p>"));
    }
}
