//! Staff of the mairies: accounts with roles bound to a commune, sessions, and the audit log.

pub mod accounts;
/// The audit log is stored in `db::audit`; kept here under its old name for its callers.
pub use crate::db::audit;

use serde::Serialize;
use uuid::Uuid;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The coordinator: every commune.
    PlatformAdmin,
    /// Its commune: sites, calendars, policies, its staff accounts.
    CommuneAdmin,
    /// Agendas, statuses, counter bookings and cancellations of its commune.
    Agent,
}

impl Role {
    /// From the database column.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "platform_admin" => Some(Role::PlatformAdmin),
            "commune_admin" => Some(Role::CommuneAdmin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    /// The database column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::CommuneAdmin => "commune_admin",
            Role::Agent => "agent",
        }
    }

    /// The role as staff say it, on the pages.
    pub fn label_fr(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "Administrateur de la plateforme",
            Role::CommuneAdmin => "Administrateur de la commune",
            Role::Agent => "Agent",
        }
    }
}

/// The logged-in staff member behind a request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// `None` for a platform administrator.
    pub commune_insee: Option<String>,
}

impl StaffUser {
    /// Whether this member may see and act on commune `insee`'s data.
    pub fn sees(&self, insee: &str) -> bool {
        self.role == Role::PlatformAdmin || self.commune_insee.as_deref() == Some(insee)
    }

    /// Whether this member administers commune `insee`.
    pub fn administers(&self, insee: &str) -> bool {
        match self.role {
            Role::PlatformAdmin => true,
            Role::CommuneAdmin => self.commune_insee.as_deref() == Some(insee),
            Role::Agent => false,
        }
    }

    /// Whether this member administers anything.
    pub fn is_admin(&self) -> bool {
        self.role != Role::Agent
    }
}
