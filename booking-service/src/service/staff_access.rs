//! Which sites a staff member may see or administer. Another commune's site is "not found", so
//! its existence is not revealed.

use super::{ServiceError, ServiceResult};
use crate::app::AppState;
use crate::db::territory::{self, SiteFilter, SiteRow};
use crate::staff::StaffUser;
use uuid::Uuid;

/// The "not found" of anything of another commune.
pub fn not_yours(code: &'static str) -> ServiceError {
    ServiceError::not_found(code, "Introuvable.")
}

/// A site the member may see.
pub async fn visible_site(state: &AppState, staff: &StaffUser, id: Uuid) -> ServiceResult<SiteRow> {
    let filter = SiteFilter {
        id: Some(id),
        ..SiteFilter::default()
    };
    let site = territory::list_sites(&state.pool, &filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| not_yours("site_not_found"))?;
    if staff.sees(&site.commune_insee) {
        Ok(site)
    } else {
        Err(not_yours("site_not_found"))
    }
}

/// A site the member administers (seen but not administered: forbidden).
pub async fn administered_site(state: &AppState, staff: &StaffUser, id: Uuid) -> ServiceResult<SiteRow> {
    let site = visible_site(state, staff, id).await?;
    if staff.administers(&site.commune_insee) {
        Ok(site)
    } else {
        Err(ServiceError::Forbidden)
    }
}
