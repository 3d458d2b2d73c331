//! End-to-end tests: authd on a free port over a fresh database, spoken to with real
//! HTTP (reqwest). The scenarios are written once and run on every backend built in.

mod admin;
mod browser;
mod dpop;
mod harness;
mod oauth;
mod oauth_phone;
mod otp;
mod scenarios;
mod user_claims;

use admin::internal_endpoints_for_admins_only;
use browser::{
    account_page_is_locked_down, browser_cookie_sessions_and_csrf, browser_logout_clears_cookies,
};
use dpop::dpop_binds_sessions_and_tokens;
use oauth::{
    introspection_and_revocation_feed, metadata_cors_415_and_405,
    oauth_token_endpoint_grants_and_errors,
};
use scenarios::*;

macro_rules! e2e_tests {
    ($db:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::$name::<$db>().await;
            }
        )*
    };
}

macro_rules! otp_e2e_tests {
    ($db:ty; $($module:ident::$name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::$module::$name::<$db>().await;
            }
        )*
    };
}

macro_rules! all_scenarios {
    ($db:ty) => {
        e2e_tests!($db;
            register_login_me,
            refresh_rotates_and_reuse_revokes_the_session,
            logout_stops_the_access_token,
            logout_all_ends_every_session,
            sessions_list_and_revoke,
            rfc7009_revoke,
            jwks_verifies_the_issued_token,
            malformed_and_oversized_bodies_write_nothing,
            burst_of_bad_logins_is_rate_limited,
            refresh_is_rate_limited_per_account,
            metrics_health_and_unknown_routes,
            background_cleanup_runs,
            extractor_protects_another_service,
            revocation_modes_are_honoured,
            a_retry_gets_the_same_successor,
            oauth_token_endpoint_grants_and_errors,
            introspection_and_revocation_feed,
            metadata_cors_415_and_405,
            internal_endpoints_for_admins_only,
            dpop_binds_sessions_and_tokens,
            browser_cookie_sessions_and_csrf,
            browser_logout_clears_cookies,
            account_page_is_locked_down,
        );
        otp_e2e_tests!($db;
            otp::phone_sign_in_over_http,
            oauth_phone::oauth_phone_code_grant,
            user_claims::phone_sign_in_carries_the_market_claim,
        );
    };
}

#[cfg(feature = "sqlite")]
mod sqlite {
    all_scenarios!(auth_sqlite::TestDb);
}

#[cfg(feature = "postgres")]
mod postgres {
    all_scenarios!(auth_postgres::TestDb);
}

#[cfg(feature = "mysql")]
mod mysql {
    all_scenarios!(auth_mysql::TestDb);
}
