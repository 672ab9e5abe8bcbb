//! The pages every public service owes its users, linked from every page's footer: the privacy
//! notice, the legal notice and the accessibility statement (RGAA). Constant text: what the
//! service keeps and for how long is the register of processing in the README, said here for
//! the citizen.

use super::page;
use maud::{html, Markup};

/// How long data is kept, as the README's register says it (one wording, shown on two pages).
fn durations() -> Markup {
    html! {
        ul {
            li { "Rendez-vous (nom, prénom, adresse électronique, téléphone, numéros de pré-demande, lien de gestion) : jusqu'à un an après la date du rendez-vous, puis anonymisés ; seuls restent la date, le lieu, le motif et le statut, pour les statistiques." }
            li { "Messages envoyés (e-mails, appels à l'ANTS) : supprimés un an après leur envoi." }
            li { "Déclarations à l'ANTS (numéro, lieu, date, lien de gestion) : retirées dès l'annulation du rendez-vous ; sinon supprimées un an après, une fois le rendez-vous passé." }
            li { "Journal des actions des agents : un an." }
            li { "Sessions des agents : supprimées trente jours après leur fin." }
            li { "Inscriptions sur la liste d'attente (adresse électronique, lieu ou commune et rayon, dates) : jusqu'à un an après leur fin (rendez-vous pris, désinscription ou dernier jour passé), puis supprimées." }
        }
    }
}

/// The privacy notice (RGPD articles 13 and 14).
#[utoipa::path(get, path = "/confidentialite", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn privacy() -> Markup {
    page(
        "Données personnelles",
        html! {
            p { "Ce service permet de prendre, déplacer et annuler un rendez-vous en mairie pour une carte nationale d'identité ou un passeport. Voici ce qu'il fait de vos données." }
            h2 { "Responsable du traitement" }
            p { "La commune de la mairie où vous prenez rendez-vous, pour les rendez-vous de ses lieux, dans le cadre du service commun de Mulhouse Alsace Agglomération qui exploite ce site." }
            h2 { "Finalité et base légale" }
            p { "Organiser l'accueil des demandes de titres d'identité : réserver un créneau, vous envoyer la confirmation, les rappels et les changements, éviter qu'un même dossier réserve plusieurs créneaux, et informer l'Agence nationale des titres sécurisés (ANTS) du rendez-vous lié à votre pré-demande. Ce traitement est nécessaire à l'exécution d'une mission d'intérêt public (article 6-1-e du RGPD) : les mairies équipées instruisent ces demandes pour l'État." }
            h2 { "Données traitées" }
            ul {
                li { "nom, prénom, adresse électronique, numéro de téléphone (facultatif) ;" }
                li { "motif, nombre de personnes, lieu, date et heure du rendez-vous ;" }
                li { "numéros de pré-demande ANTS et le résultat de leur vérification ;" }
                li { "les messages envoyés et les actions des agents sur votre rendez-vous ;" }
                li { "si vous vous inscrivez sur la liste d'attente : votre adresse électronique, le lieu ou la commune et le rayon, le motif, le nombre de personnes et les dates possibles." }
            }
            h2 { "Destinataires" }
            p { "Les agents de la mairie de votre rendez-vous ; l'ANTS, pour les numéros de pré-demande (numéro, lieu, date et lien de gestion du rendez-vous) ; notre prestataire d'envoi d'e-mails ; si vous demandez le rappel par SMS, notre prestataire d'envoi de SMS (numéro et texte du rappel ; répondez STOP pour l'arrêter). Aucune donnée n'est vendue ni utilisée à des fins commerciales." }
            h2 { "Durées de conservation" }
            (durations())
            h2 { "Vos droits" }
            p {
                "Vous pouvez accéder à vos données, les faire rectifier, vous opposer à leur traitement ou demander leur effacement. "
                "Depuis le lien de gestion reçu par e-mail, vous pouvez vous-même télécharger toutes les données conservées sur vous "
                "(« Télécharger mes données ») et les effacer (« Effacer mes données ») : le rendez-vous, s'il est à venir, est alors annulé. "
                "Pour toute autre demande, adressez-vous à la mairie de votre rendez-vous (son adresse figure dans l'e-mail de confirmation) ; "
                "elle transmet à son délégué à la protection des données."
            }
            p {
                "Si vous estimez que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la Commission nationale de l'informatique et des libertés (CNIL), "
                a href="https://www.cnil.fr/fr/plaintes" { "www.cnil.fr/fr/plaintes" } "."
            }
            h2 { "Cookies" }
            p { "Aucun cookie n'est déposé sur les pages des usagers, et aucun outil de mesure d'audience n'est utilisé. Les agents connectés ont un cookie de session, nécessaire au service." }
        },
    )
}

/// The legal notice (loi pour la confiance dans l'économie numérique, article 6).
#[utoipa::path(get, path = "/mentions-legales", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn legal_notice() -> Markup {
    page(
        "Mentions légales",
        html! {
            h2 { "Éditeur" }
            p { "Service commun de prise de rendez-vous des mairies de Mulhouse Alsace Agglomération (m2A), pour les communes membres équipées d'une station de recueil des titres d'identité. Chaque commune est responsable des rendez-vous de ses lieux." }
            h2 { "Directeur de la publication" }
            p { "Le président de Mulhouse Alsace Agglomération." }
            h2 { "Hébergement" }
            p { "Le service est hébergé sur l'infrastructure de Mulhouse Alsace Agglomération, en France." }
            h2 { "Données personnelles" }
            p { "Voir la page " a href="/confidentialite" { "Données personnelles" } "." }
            h2 { "Accessibilité" }
            p { "Voir la " a href="/accessibilite" { "déclaration d'accessibilité" } "." }
            h2 { "Réutilisation" }
            p { "Les textes de ce site peuvent être réutilisés en citant la source. Les informations sur les pièces à fournir ne remplacent pas celles de service-public.fr." }
        },
    )
}

/// The accessibility statement, in the RGAA 4.1 model's order.
#[utoipa::path(get, path = "/accessibilite", tag = "pages", responses((status = 200, content_type = "text/html", body = String)))]
pub async fn accessibility() -> Markup {
    page(
        "Déclaration d'accessibilité",
        html! {
            p { "Les mairies de Mulhouse Alsace Agglomération s'engagent à rendre ce service accessible, conformément à l'article 47 de la loi n° 2005-102 du 11 février 2005. Cette déclaration s'applique au service de rendez-vous carte d'identité et passeport (pages des usagers et des agents)." }
            h2 { "État de conformité" }
            p { strong { "Ce service est partiellement conforme" } " avec le référentiel général d'amélioration de l'accessibilité (RGAA), version 4.1. Il s'agit d'une évaluation interne : aucun audit RGAA complet n'a encore été réalisé, aucun taux de conformité ne peut donc être annoncé." }
            h2 { "Ce qui est vérifié" }
            ul {
                li { "Les pages sont contrôlées avec axe-core dans un navigateur par les tests automatisés du service, à la largeur d'un téléphone et d'un ordinateur : aucune erreur grave ou critique n'est acceptée. Ce contrôle ne couvre qu'une partie des critères du RGAA." }
                li { "Les pages fonctionnent sans JavaScript et au clavier seul : lien d'évitement vers le contenu, un seul titre de niveau 1, titres dans l'ordre, étiquette sur chaque champ, erreurs affichées à côté du champ concerné, tableaux avec en-têtes et légendes." }
                li { "Langue de la page déclarée (français), mise en page lisible sur un téléphone sans défilement horizontal." }
            }
            h2 { "Ce qui n'est pas vérifié" }
            ul {
                li { "Aucun test n'a encore été mené avec des personnes utilisant un lecteur d'écran, une loupe ou une commande vocale." }
                li { "Les critères que l'outil automatique ne peut pas juger (pertinence des alternatives et des intitulés, contrastes des états de focus, restitution des messages de statut) n'ont pas été évalués un par un." }
                li { "Les fichiers à télécharger (agenda .ics, export de données) ne sont pas soumis au RGAA." }
            }
            h2 { "Retour d'information et contact" }
            p { "Si vous n'arrivez pas à accéder à un contenu ou à un service, contactez la mairie de votre rendez-vous (adresse dans l'e-mail de confirmation) pour être orienté vers une alternative accessible : elle peut aussi prendre, déplacer ou annuler votre rendez-vous par téléphone ou au guichet." }
            h2 { "Voies de recours" }
            p { "Si vous avez signalé un défaut d'accessibilité qui vous empêche d'accéder à un contenu ou à un service et que vous n'avez pas obtenu de réponse satisfaisante, vous pouvez saisir le Défenseur des droits :" }
            ul {
                li { "par le formulaire en ligne : " a href="https://formulaire.defenseurdesdroits.fr/" { "formulaire.defenseurdesdroits.fr" } " ;" }
                li { "en contactant le délégué du Défenseur des droits de votre région : " a href="https://www.defenseurdesdroits.fr/saisir/delegues" { "liste des délégués" } " ;" }
                li { "par courrier, gratuitement, sans affranchissement : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07." }
            }
        },
    )
}
