//! A period's allocation key: every choice the convention leaves open, decided by the group's
//! steering committee and stored with the period, so a closed period is always split the same way.
//!
//! Annexe 2 says only that the socle and the hosting are shared « en fonction du nombre de
//! téléservices proposés sur la plateforme et de la population de chaque membre ». The defaults
//! read that sentence literally (a count of téléservices, the members' populations, nothing about
//! time); every other reading is a decision, shown as such with the sentence it interprets.

use serde::Serialize;
use serde_json::Value;
use std::str::FromStr;
use utoipa::ToSchema;

/// α, the weight of the number of téléservices against the population, in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Alpha(u16);

impl Alpha {
    /// α = 0.5.
    pub const HALF: Alpha = Alpha(500);

    /// α from thousandths: `None` outside 0..=1000.
    pub fn from_permille(permille: i64) -> Option<Self> {
        u16::try_from(permille).ok().filter(|p| *p <= 1000).map(Alpha)
    }

    /// α in thousandths.
    pub fn permille(self) -> i64 {
        i64::from(self.0)
    }

    /// `0,5`: α as a French decimal.
    fn french(self) -> String {
        let s = format!("{},{:03}", self.0 / 1000, self.0 % 1000);
        let s = s.trim_end_matches('0').trim_end_matches(',');
        s.to_string()
    }
}

/// How the two criteria of the socle and hosting split are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combination {
    /// `α·n_i/Σn + (1 − α)·pop_i/Σpop`.
    Sum,
    /// `n_i·pop_i / Σ(n·pop)` (α has no effect).
    Product,
}

/// What population counts for the EPCI (m2A) itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EpciPopulation {
    /// The sum of its member communes (a commune that also pays for itself counts twice).
    CommunesSum,
    /// The member communes that offer no téléservice in the period (nobody counts twice).
    OtherCommunes,
    /// None: the EPCI shares by its téléservices only.
    None,
}

/// Which population figure of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PopulationField {
    /// Population municipale (INSEE).
    Municipale,
    /// Population totale (municipale + comptée à part).
    Totale,
}

macro_rules! from_str {
    ($t:ty { $($s:literal => $v:expr),+ $(,)? }) => {
        impl FromStr for $t {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($s => Ok($v),)+
                    _ => Err(()),
                }
            }
        }
        impl $t {
            /// The accepted spellings, for error messages.
            pub const CHOICES: &'static [&'static str] = &[$($s),+];
        }
    };
}
from_str!(Combination { "sum" => Combination::Sum, "product" => Combination::Product });
from_str!(EpciPopulation {
    "communes_sum" => EpciPopulation::CommunesSum,
    "other_communes" => EpciPopulation::OtherCommunes,
    "none" => EpciPopulation::None,
});
from_str!(PopulationField { "municipale" => PopulationField::Municipale, "totale" => PopulationField::Totale });

/// The allocation key of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Key {
    /// Whether every criterion is weighted by the days of service in the period.
    pub prorata_temporis: bool,
    /// α in thousandths (500 = 0.5).
    #[schema(value_type = i64, minimum = 0, maximum = 1000)]
    pub alpha_permille: Alpha,
    /// Sum or product of the two criteria.
    pub combination: Combination,
    /// What population counts for the EPCI.
    pub epci_population: EpciPopulation,
    /// Whether the State-mission services (CNI/passport) count in the EPCI's n_i.
    pub state_mission_in_epci_n: bool,
    /// Where the populations come from (a dataset and its year).
    pub population_source: String,
    /// Which population figure of that source.
    pub population_field: PopulationField,
}

impl Key {
    /// The convention read literally, with populations from `population_source`.
    pub fn literal(population_source: impl Into<String>) -> Self {
        Self {
            prorata_temporis: false,
            alpha_permille: Alpha::HALF,
            combination: Combination::Sum,
            epci_population: EpciPopulation::CommunesSum,
            state_mission_in_epci_n: false,
            population_source: population_source.into(),
            population_field: PopulationField::Municipale,
        }
    }

    /// This key with the choices of a what-if in place of its own.
    pub fn with(&self, o: &Overrides) -> Self {
        Self {
            prorata_temporis: o.prorata_temporis.unwrap_or(self.prorata_temporis),
            alpha_permille: o.alpha_permille.unwrap_or(self.alpha_permille),
            combination: o.combination.unwrap_or(self.combination),
            epci_population: o.epci_population.unwrap_or(self.epci_population),
            state_mission_in_epci_n: o.state_mission_in_epci_n.unwrap_or(self.state_mission_in_epci_n),
            population_source: o
                .population_source
                .clone()
                .unwrap_or_else(|| self.population_source.clone()),
            population_field: o.population_field.unwrap_or(self.population_field),
        }
    }

    /// Each choice of this key explained, against the key the steering committee decided.
    pub fn decisions(&self, committee: &Key) -> Vec<Decision> {
        let choice = |field: &'static str,
                      label: &'static str,
                      value: (Value, String),
                      decided: (Value, String),
                      meaning: String,
                      silent_on: &'static str| {
            let simulated = value.0 != decided.0;
            Decision {
                field,
                label,
                value: value.0,
                shown: value.1,
                meaning,
                status: if simulated {
                    format!(
                        "Simulation, hors décision du comité de pilotage (décision : {})",
                        decided.1
                    )
                } else {
                    COMMITTEE.into()
                },
                committee_value: simulated.then_some(decided.0),
                interprets: CRITERIA,
                convention_silent_on: silent_on,
            }
        };
        let yes_no = |b: bool| (Value::from(b), if b { "oui" } else { "non" }.to_string());
        let alpha = |a: Alpha| (Value::from(a.permille()), a.french());
        let code = |c: &'static str, fr: &'static str| (Value::from(c), fr.to_string());
        let source = |k: &Key| {
            (
                Value::from(k.population_source.as_str()),
                k.population_source.clone(),
            )
        };
        vec![
            choice(
                "prorata_temporis",
                "Prorata temporis",
                yes_no(self.prorata_temporis),
                yes_no(committee.prorata_temporis),
                if self.prorata_temporis {
                    "Oui : chaque critère est pondéré par les jours de service dans la période : n_i en \
                     jours de téléservice, la population par les jours où le membre propose au moins \
                     un téléservice, chaque module mutualisé par jours proposés × population."
                } else {
                    "Non : n_i compte les téléservices proposés pendant la période, quelle qu'en soit \
                     la durée ; la population compte entière ; un module mutualisé se partage selon la \
                     population de ses utilisateurs."
                }
                .into(),
                "la durée : un téléservice proposé une partie de la période y compte-t-il en entier ?",
            ),
            choice(
                "alpha_permille",
                "α (poids du nombre de téléservices)",
                alpha(self.alpha_permille),
                alpha(committee.alpha_permille),
                match self.combination {
                    Combination::Sum => format!(
                        "α = {} pour le nombre de téléservices, 1 − α pour la population.",
                        self.alpha_permille.french()
                    ),
                    Combination::Product => format!(
                        "α = {} : sans effet, les deux critères sont multipliés.",
                        self.alpha_permille.french()
                    ),
                },
                "le poids de chacun des deux critères",
            ),
            choice(
                "combination",
                "Combinaison des deux critères",
                code(self.combination.code(), self.combination.french()),
                code(committee.combination.code(), committee.combination.french()),
                match self.combination {
                    Combination::Sum => {
                        "Somme : part_i = α·n_i/Σn + (1 − α)·pop_i/Σpop, entre les membres qui \
                         proposent au moins un téléservice."
                    }
                    Combination::Product => {
                        "Produit : part_i = n_i·pop_i / Σ(n·pop), entre les membres qui proposent au \
                         moins un téléservice."
                    }
                }
                .into(),
                "la façon de combiner les deux critères (aucune formule n'est donnée)",
            ),
            choice(
                "epci_population",
                "Population de m2A",
                code(self.epci_population.code(), self.epci_population.french()),
                code(
                    committee.epci_population.code(),
                    committee.epci_population.french(),
                ),
                match self.epci_population {
                    EpciPopulation::CommunesSum => {
                        "La somme des populations de ses communes membres (une commune qui paie aussi \
                         pour elle-même y est comptée deux fois)."
                    }
                    EpciPopulation::OtherCommunes => {
                        "La population des communes membres qui ne proposent aucun téléservice pendant \
                         la période (personne n'est compté deux fois)."
                    }
                    EpciPopulation::None => {
                        "Aucune : m2A partage le socle et l'hébergement selon ses téléservices seulement."
                    }
                }
                .into(),
                "la population de m2A, membre dont le territoire recouvre celui des communes membres",
            ),
            choice(
                "state_mission_in_epci_n",
                "Service de rendez-vous CNI/passeport dans le n_i de m2A",
                yes_no(self.state_mission_in_epci_n),
                yes_no(committee.state_mission_in_epci_n),
                if self.state_mission_in_epci_n {
                    "Oui : chaque service de mission de l'État proposé pendant la période compte dans le \
                     n_i de m2A, qui le paie en entier."
                } else {
                    "Non : le service de rendez-vous CNI/passeport, payé en entier par m2A, ne compte \
                     dans le n_i de personne."
                }
                .into(),
                "si le service de rendez-vous CNI/passeport, mission exercée pour l'État et payée en \
                 entier par m2A, compte parmi les téléservices de m2A",
            ),
            choice(
                "population_source",
                "Source des populations",
                source(self),
                source(committee),
                format!("Populations de la source « {} ».", self.population_source),
                "la source et l'année des populations",
            ),
            choice(
                "population_field",
                "Population retenue",
                code(self.population_field.code(), self.population_field.code()),
                code(
                    committee.population_field.code(),
                    committee.population_field.code(),
                ),
                match self.population_field {
                    PopulationField::Municipale => "Population municipale.",
                    PopulationField::Totale => "Population totale (municipale et comptée à part).",
                }
                .into(),
                "quelle population (municipale ou totale)",
            ),
        ]
    }
}

/// How a decision is labelled.
pub const COMMITTEE: &str = "Décision du comité de pilotage";

/// The one sentence of the convention on the socle and hosting split (Annexe 2), word for word.
pub const CRITERIA: &str =
    "Annexe 2 (socle de base et hébergement) : « en fonction du nombre de téléservices \
     proposés sur la plateforme et de la population de chaque membre »";

impl Combination {
    /// How the key writes it.
    pub fn code(self) -> &'static str {
        match self {
            Combination::Sum => "sum",
            Combination::Product => "product",
        }
    }

    fn french(self) -> &'static str {
        match self {
            Combination::Sum => "somme",
            Combination::Product => "produit",
        }
    }
}

impl EpciPopulation {
    /// How the key writes it.
    pub fn code(self) -> &'static str {
        match self {
            EpciPopulation::CommunesSum => "communes_sum",
            EpciPopulation::OtherCommunes => "other_communes",
            EpciPopulation::None => "none",
        }
    }

    fn french(self) -> &'static str {
        match self {
            EpciPopulation::CommunesSum => "somme de ses communes",
            EpciPopulation::OtherCommunes => "communes sans téléservice",
            EpciPopulation::None => "aucune",
        }
    }
}

impl PopulationField {
    /// How the key writes it.
    pub fn code(self) -> &'static str {
        match self {
            PopulationField::Municipale => "municipale",
            PopulationField::Totale => "totale",
        }
    }
}

/// Choices a what-if makes instead of the period's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub prorata_temporis: Option<bool>,
    pub alpha_permille: Option<Alpha>,
    pub combination: Option<Combination>,
    pub epci_population: Option<EpciPopulation>,
    pub state_mission_in_epci_n: Option<bool>,
    pub population_source: Option<String>,
    pub population_field: Option<PopulationField>,
}

/// One choice of the key, explained for the people who pay.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Decision {
    /// The key's field (also the what-if query parameter).
    pub field: &'static str,
    /// Its name, in French.
    pub label: &'static str,
    /// The value the split used, as the key writes it.
    #[schema(value_type = Object)]
    pub value: Value,
    /// The same value, in French.
    pub shown: String,
    /// What that value does, in French.
    pub meaning: String,
    /// « Décision du comité de pilotage », or a simulation that departs from it.
    pub status: String,
    /// The committee's value, when the split simulates another.
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committee_value: Option<Value>,
    /// The convention's sentence this choice interprets, word for word.
    pub interprets: &'static str,
    /// What that sentence leaves open, which the committee decides.
    pub convention_silent_on: &'static str,
}
