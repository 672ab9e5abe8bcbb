//! The page around every page's content: language, viewport, title, the shared stylesheet, a
//! skip link to the content, the header, one `h1` and the footer.

use maud::{html, Markup, DOCTYPE};

/// The service's name, after each page's title and in the header's link home.
const SERVICE: &str = "Rendez-vous CNI et passeport";

/// A whole page. `title` is both the document's title and its only `h1`.
pub fn page(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – " (SERVICE) }
                link rel="stylesheet" href="/static/site.css";
            }
            body {
                a.skip-link href="#contenu" { "Aller au contenu" }
                header {
                    a href="/" { "Rendez-vous carte d'identité et passeport" }
                }
                main #contenu {
                    h1 { (title) }
                    (content)
                }
                footer.hint {
                    p { "Service des mairies de Mulhouse Alsace Agglomération, ouvert à tous." }
                    nav aria-label="Informations légales" {
                        ul.footer-links {
                            li { a href="/confidentialite" { "Données personnelles" } }
                            li { a href="/mentions-legales" { "Mentions légales" } }
                            li { a href="/accessibilite" { "Accessibilité : partiellement conforme" } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_h1_a_skip_link_and_the_title_escaped() {
        let html = page("<b>Zoé & d'autres</b>", html! { p { "corps" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"fr\">"));
        assert_eq!(html.matches("<h1>").count(), 1);
        assert!(html.contains("<a class=\"skip-link\" href=\"#contenu\">Aller au contenu</a>"));
        assert!(html.contains(
            "<main id=\"contenu\"><h1>&lt;b&gt;Zoé &amp; d'autres&lt;/b&gt;</h1><p>corps</p></main>"
        ));
        assert!(!html.contains("<b>"));
    }
}
