//! Composition: the shared state, the one route list (JSON API and pages; the router and the
//! OpenAPI document both come from it), the middleware, and serving.

use crate::ants::client::AntsClient;
use crate::clock::Clock;
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::holds::mirror::HoldMirror;
use crate::holds::store::HoldStore;
use crate::holds::token::HoldSigner;
use crate::http::{
    ants, appointments, availability, communes, holds, manage, ops, sites, sms, staff, waitlist,
};
use crate::kv::Kv;
use crate::limits::SharedLimit;
use crate::read_model::ReadModel;
use crate::secrets::{KeyRing, Sealer};
use crate::telemetry::Telemetry;
use crate::web;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::Router;
use sqlx::PgPool;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// PostgreSQL, the one source of truth.
    pub pool: PgPool,
    /// Redis, for holds and shared counters; optional at run time.
    pub kv: Arc<Kv>,
    /// The clock deciding "now" (a manual one in tests).
    pub clock: Arc<dyn Clock>,
    /// The configuration the service was started with.
    pub config: Arc<ServeConfig>,
    /// This instance's metrics (`/metrics`).
    pub metrics: Arc<Telemetry>,
    /// Shutting down: unready, answers close their connections (see `SHUTDOWN_DRAIN_SECS`).
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Signs and verifies hold tokens.
    pub signer: Arc<HoldSigner>,
    /// Seals management tokens so the notifier (and only it) can put them in emails.
    pub sealer: Arc<Sealer>,
    /// Sites and their calendars in memory, exact across instances by per-site versions.
    pub read_model: Arc<ReadModel>,
    /// Every site's live holds, mirrored from Redis.
    pub hold_mirror: Arc<HoldMirror>,
    /// The ANTS coordination API, when configured.
    pub ants: Option<Arc<AntsClient>>,
    /// Key of the client-address HMAC (derived from `APP_SECRET`).
    pub client_key: Arc<[u8; 32]>,
    /// Staff login attempts per client address (across instances).
    pub login_limiter: Arc<SharedLimit>,
    /// Public writes (holds, confirmations, management actions) per client (across instances).
    pub write_limiter: Arc<SharedLimit>,
}

impl AppState {
    /// State from its parts.
    pub fn new(pool: PgPool, config: ServeConfig, clock: Arc<dyn Clock>) -> Self {
        let kv = Kv::new(&config.redis_url, &config.redis_key_prefix, config.redis_cluster);
        let ring = KeyRing::derive(
            config.app_secret.expose(),
            config.app_secret_previous.as_ref().map(|s| s.expose()),
        );
        Self {
            signer: Arc::new(HoldSigner::from_ring(&ring)),
            sealer: Arc::new(Sealer::from_ring(&ring)),
            client_key: Arc::new(ring.current.client),
            read_model: Arc::new(ReadModel::new(
                Duration::from_millis(config.availability_cache_ms),
                Some(pool.clone()),
            )),
            hold_mirror: Arc::new(HoldMirror::new(Duration::from_millis(config.holds_mirror_ms))),
            ants: AntsClient::from_config(&config.ants_api).map(Arc::new),
            login_limiter: Arc::new(SharedLimit::per_minute("login", config.staff_login_per_minute)),
            write_limiter: Arc::new(SharedLimit::per_minute("writes", config.public_writes_per_minute)),
            pool,
            kv: Arc::new(kv),
            clock,
            config: Arc::new(config),
            metrics: Arc::new(Telemetry::default()),
            draining: Arc::default(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rendez-vous CNI et passeport",
        description = "Prise de rendez-vous pour les cartes d'identité et passeports dans les mairies de l'agglomération."
    ),
    tags(
        (name = "public", description = "API publique, sans connexion"),
        (name = "staff", description = "Agents et administrateurs des mairies (connexion requise)"),
        (name = "ants", description = "Points d'entrée appelés par le moteur national de l'ANTS"),
        (name = "ops", description = "Supervision")
    )
)]
struct ApiDoc;

/// Every documented route; the router and the OpenAPI document come from this one list.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(communes::list_communes))
        .routes(routes!(sites::list_sites))
        .routes(routes!(sites::get_site))
        .routes(routes!(availability::site_availability))
        .routes(routes!(availability::earliest))
        .routes(routes!(holds::create_hold))
        .routes(routes!(holds::release_hold))
        .routes(routes!(appointments::confirm))
        .routes(routes!(manage::show))
        .routes(routes!(manage::cancel))
        .routes(routes!(manage::confirm_presence))
        .routes(routes!(manage::reschedule))
        .routes(routes!(manage::data))
        .routes(routes!(manage::erase))
        .routes(routes!(waitlist::subscribe))
        .routes(routes!(waitlist::show, waitlist::unsubscribe))
        .routes(routes!(waitlist::accept))
        .routes(routes!(sms::reply))
        .routes(routes!(ants::get_managed_meeting_points))
        .routes(routes!(ants::available_time_slots))
        .routes(routes!(ants::search_application_ids))
        .routes(routes!(web::citizen::home))
        .routes(routes!(web::citizen::search))
        .routes(routes!(web::citizen::site_page))
        .routes(routes!(web::citizen::hold_post, web::citizen::hold_from_link))
        .routes(routes!(web::citizen::form_page))
        .routes(routes!(web::citizen::confirm_post))
        .routes(routes!(web::citizen::manage_page))
        .routes(routes!(web::citizen::move_page))
        .routes(routes!(web::calendar_file::ics))
        .routes(routes!(web::citizen::cancel_page, web::citizen::cancel_post))
        .routes(routes!(
            web::citizen::confirm_presence_page,
            web::citizen::confirm_presence_post
        ))
        .routes(routes!(web::citizen_data::download))
        .routes(routes!(web::waitlist::join_page, web::waitlist::join_post))
        .routes(routes!(web::waitlist::entry))
        .routes(routes!(web::waitlist::accept_post))
        .routes(routes!(web::waitlist::leave_post))
        .routes(routes!(
            web::citizen_data::erase_page,
            web::citizen_data::erase_post
        ))
        .routes(routes!(web::legal::privacy))
        .routes(routes!(web::legal::legal_notice))
        .routes(routes!(web::legal::accessibility))
        .routes(routes!(web::stylesheet))
        .routes(routes!(web::near_me_script))
        .routes(routes!(web::staff::login_page, web::staff::login_post))
        .routes(routes!(web::staff::sites))
        .routes(routes!(web::staff::day))
        .routes(routes!(web::staff::print_day))
        .routes(routes!(
            web::staff_platform::sites_page,
            web::staff_platform::sites_post
        ))
        .routes(routes!(web::staff::set_status))
        .routes(routes!(
            web::staff_counter::counter_page,
            web::staff_counter::counter_booking_post
        ))
        .routes(routes!(web::staff_counter::slot_form))
        .routes(routes!(web::staff_feed::feeds, web::staff_feed::renew_post))
        .routes(routes!(web::staff_feed::feed_file))
        .routes(routes!(web::staff::closure_post))
        .routes(routes!(web::staff::breakdown_post))
        .routes(routes!(web::staff_hours::hours_page_get))
        .routes(routes!(web::staff_hours::week_post))
        .routes(routes!(
            web::staff_settings::closures_get,
            web::staff_settings::closure_add_post
        ))
        .routes(routes!(web::staff_settings::closure_end_post))
        .routes(routes!(web::staff_settings::closure_delete_post))
        .routes(routes!(
            web::staff_settings::policy_get,
            web::staff_settings::policy_post
        ))
        .routes(routes!(web::staff_settings::release_post))
        .routes(routes!(web::staff_settings::settings_get))
        .routes(routes!(web::staff_settings::station_add_post))
        .routes(routes!(web::staff_settings::station_post))
        .routes(routes!(web::staff_settings::motif_post))
        .routes(routes!(web::staff_appointment::show))
        .routes(routes!(web::staff_appointment::status_post))
        .routes(routes!(web::staff_appointment::contact_post))
        .routes(routes!(web::staff_appointment::lift_confirmation_post))
        .routes(routes!(
            web::staff_appointment::move_page,
            web::staff_appointment::move_post
        ))
        .routes(routes!(web::staff_appointment::search))
        .routes(routes!(web::staff_appointment::week))
        .routes(routes!(
            web::password_reset::forgot_page,
            web::password_reset::forgot_post
        ))
        .routes(routes!(web::password_reset::reset_page))
        .routes(routes!(web::password_reset::reset_post))
        .routes(routes!(web::staff::logout_post))
        .routes(routes!(
            web::staff_account::password_page,
            web::staff_account::password_post
        ))
        .routes(routes!(
            web::staff_admin::accounts_page,
            web::staff_admin::create_post
        ))
        .routes(routes!(web::staff_admin::account_post))
        .routes(routes!(web::staff_admin::journal_page))
        .routes(routes!(web::staff_admin::failures_page))
        .routes(routes!(web::staff_admin::retry_post))
        .routes(routes!(web::staff_admin::export_page))
        .routes(routes!(web::staff_admin::export_csv))
        .routes(routes!(web::staff_stats::stats_page))
        .routes(routes!(staff::auth::login))
        .routes(routes!(staff::auth::logout))
        .routes(routes!(staff::auth::me))
        .routes(routes!(staff::auth::change_password))
        .routes(routes!(staff::agenda::sites, staff::platform::create_site))
        .routes(routes!(staff::agenda::agenda))
        .routes(routes!(staff::agenda::search))
        .routes(routes!(staff::agenda::export))
        .routes(routes!(staff::appointments::set_status))
        .routes(routes!(staff::appointments::counter_booking))
        .routes(routes!(staff::feed::list_feeds, staff::feed::renew_site_feed))
        .routes(routes!(staff::feed::renew_station_feed))
        .routes(routes!(
            staff::appointment_edit::show,
            staff::appointment_edit::edit_contact
        ))
        .routes(routes!(staff::appointment_edit::move_appointment))
        .routes(routes!(staff::appointment_edit::lift_confirmation))
        .routes(routes!(staff::calendar::calendar))
        .routes(routes!(staff::calendar::add_rule))
        .routes(routes!(
            staff::calendar::change_rule,
            staff::calendar::delete_rule
        ))
        .routes(routes!(staff::calendar::add_closure))
        .routes(routes!(staff::calendar::set_policy))
        .routes(routes!(staff::calendar::add_release))
        .routes(routes!(staff::calendar::breakdown))
        .routes(routes!(staff::calendar::stats))
        .routes(routes!(staff::calendar_settings::replace_week))
        .routes(routes!(
            staff::calendar_settings::end_closure,
            staff::calendar_settings::delete_closure
        ))
        .routes(routes!(staff::calendar_settings::add_station))
        .routes(routes!(staff::calendar_settings::change_station))
        .routes(routes!(staff::calendar_settings::motifs))
        .routes(routes!(staff::calendar_settings::set_motif))
        .routes(routes!(staff::admin::list_accounts, staff::admin::create_account))
        .routes(routes!(staff::account_lifecycle::update_account))
        .routes(routes!(staff::account_lifecycle::request_password_reset))
        .routes(routes!(staff::account_lifecycle::confirm_password_reset))
        .routes(routes!(staff::admin::audit_log))
        .routes(routes!(staff::admin::outbox_failures))
        .routes(routes!(staff::admin::retry_message))
        .routes(routes!(staff::account_lifecycle::send_reset_link))
        .routes(routes!(staff::stats::statistics))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi_json))
}

/// The OpenAPI document of the service, built once.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| api_router().split_for_parts().1)
}

/// The JSON 404 of unknown routes (shared with the registry).
pub async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "Cette adresse n'existe pas.")
}

/// The JSON 405 of a known route with another method (shared with the registry).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Méthode non autorisée pour cette adresse.",
    )
}

/// The Content-Security-Policy of every page: our own stylesheet and our own one script (the home
/// page's optional "autour de moi"; every page works without it), no inline script, no framing,
/// forms only to us.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers every answer carries unless its handler chose otherwise: no MIME sniffing, no
/// referrer (management links and hold tokens sit in URLs), never cached (pages and answers show
/// personal data or tokens; the stylesheet sets its own caching), the CSP on HTML, and HSTS when
/// the service is public over HTTPS.
async fn security_headers(
    https: bool,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let mut resp = next.run(req).await;
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if is_html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// Whether a state-changing request comes from a page of another site: browsers say so in
/// `Sec-Fetch-Site`, and older ones in `Origin`. A page elsewhere must never make its visitors'
/// browsers hold slots, book or cancel here (a form post needs no CORS preflight). Requests
/// without either header are not from a browser page and pass (curl, the tests, the ANTS hub).
pub fn is_cross_site(headers: &axum::http::HeaderMap, public_base: &str) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = get("origin") else {
        return false;
    };
    let own = |base: &str| {
        url::Url::parse(base)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    };
    let by_host = get("host").map(|h| format!("http://{h}"));
    let by_host_tls = get("host").map(|h| format!("https://{h}"));
    ![own(public_base), by_host, by_host_tls]
        .into_iter()
        .flatten()
        .any(|o| o == origin)
}

/// Refuses (403) a state-changing request from a page of another site.
async fn same_site_writes(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let writes = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if writes && is_cross_site(req.headers(), &state.config.public_base_url()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "Demande venue d'un autre site : refaites-la depuis les pages du service.",
        )
        .into_response();
    }
    next.run(req).await
}

/// Beyond `MAX_IN_FLIGHT`, an immediate 503 with `Retry-After` instead of a queue.
async fn overloaded(_: tower::BoxError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "Service très sollicité, réessayez dans un instant.",
    )
    .with_retry_after(2)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    ApiError::internal("handler panicked").into_response()
}

/// The protections every HTTP service of the platform wears, outermost first: a panic becomes a
/// JSON 500; beyond `max_in_flight` requests, an immediate 503 (no queue); a request running
/// longer than `timeout` is answered 503; bodies over `body_limit` bytes are refused (413); the
/// security headers.
#[derive(Debug, Clone, Copy)]
pub struct Hardening {
    pub timeout: Duration,
    pub max_in_flight: usize,
    pub body_limit: usize,
    /// Served over HTTPS (HSTS is sent).
    pub https: bool,
}

/// Wraps a router in [`Hardening`].
pub fn hardened<S: Clone + Send + Sync + 'static>(router: Router<S>, h: Hardening) -> Router<S> {
    let https = h.https;
    router
        .layer(axum::extract::DefaultBodyLimit::max(h.body_limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            security_headers(https, req, next)
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            h.timeout,
        ))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(h.max_in_flight.max(1)),
        )
        .layer(CatchPanicLayer::custom(panic_response))
}

/// The span of a request names the route pattern, never the raw URI: paths can carry tokens.
pub fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    tracing::info_span!("request", method = %req.method(), route = %route)
}

/// Largest request body the booking service reads (its forms and JSON bodies are small).
const BODY_LIMIT: usize = 64 * 1024;

/// The whole application with its middleware.
pub fn app(state: AppState) -> Router {
    let (router, _) = api_router().split_for_parts();
    let protections = Hardening {
        timeout: Duration::from_secs(state.config.request_timeout_secs),
        max_in_flight: state.config.max_in_flight,
        body_limit: BODY_LIMIT,
        https: state.config.public_base_url().starts_with("https://"),
    };
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::telemetry::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.draining.clone(),
            close_when_draining,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            same_site_writes,
        ));
    hardened(router, protections)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Forgets, every minute, the rate-limit entries of clients that have not been seen for a while,
/// so a scan of many addresses cannot grow the limiters' tables without bound.
pub fn spawn_limiter_pruning(state: &AppState) {
    let (writes, logins) = (state.write_limiter.clone(), state.login_limiter.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            writes.prune();
            logins.prune();
        }
    });
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests. The
/// peer address is recorded: without it, every client would be the same client for the limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves the booking service on `listener` until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.read_model.watch(
        state.pool.clone(),
        Duration::from_millis(state.config.read_model_poll_ms),
        state.config.read_model_listen,
    );
    state
        .hold_mirror
        .watch(state.kv.clone(), HoldStore::channel(&state.kv.prefix));
    if state.config.read_model_warm && state.config.availability_cache_ms > 0 {
        state.read_model.set_warm(false);
        let warming = state.clone();
        tokio::spawn(async move {
            let began = std::time::Instant::now();
            loop {
                match crate::service::availability::warm_up(&warming).await {
                    Ok(n) => {
                        tracing::info!(
                            sites = n,
                            ms = began.elapsed().as_millis() as u64,
                            "read model warm"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "read model warm-up failed; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
            warming.read_model.set_warm(true);
        });
    }
    crate::service::waitlist::spawn_sweeper(
        state.clone(),
        Duration::from_millis(state.config.waitlist_sweep_ms),
    );
    let (draining, drain) = (
        state.draining.clone(),
        Duration::from_secs(state.config.shutdown_drain_secs),
    );
    let shutdown = async move {
        shutdown.await;
        draining.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(seconds = drain.as_secs(), "draining before closing the listener");
        tokio::time::sleep(drain).await;
    };
    serve(listener, app(state), shutdown).await
}

/// While draining, every answer closes its connection: a client's next request opens a new one,
/// which the balancer sends to an instance that stays.
async fn close_when_draining(
    State(draining): State<Arc<std::sync::atomic::AtomicBool>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    if draining.load(std::sync::atomic::Ordering::Relaxed) {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}
