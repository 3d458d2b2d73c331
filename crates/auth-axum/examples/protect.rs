//! A resource server protecting `/hello` with tokens from authd, verified through its
//! JWKS; logouts arrive through the revocation feed when client credentials are set.
//!
//! `ALLOW_HTTP=true cargo run -p auth-axum --example protect` (a development authd on
//! http://127.0.0.1:8080; set ISSUER, AUDIENCE, CLIENT_ID/CLIENT_SECRET and BIND to
//! change it, ROOT_CA to a PEM file for an https issuer under a private CA; without
//! ALLOW_HTTP=true only https issuers are accepted).
use auth_axum::{Authenticated, RemoteVerifier};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let mut verifier = RemoteVerifier::builder(
        env("ISSUER", "http://127.0.0.1:8080"),
        env("AUDIENCE", "authd"),
    );
    if env("ALLOW_HTTP", "false") == "true" {
        verifier = verifier.allow_http();
    }
    if let Ok(path) = std::env::var("ROOT_CA") {
        verifier = verifier.root_certificate(std::fs::read(path)?);
    }
    if let (Ok(id), Ok(secret)) = (std::env::var("CLIENT_ID"), std::env::var("CLIENT_SECRET")) {
        verifier = verifier.client(id, secret);
    }
    let app = axum::Router::new()
        .route(
            "/hello",
            axum::routing::get(
                |auth: Authenticated| async move { format!("hello {}\n", auth.user_id) },
            ),
        )
        .with_state(verifier.build().await?);
    let listener = tokio::net::TcpListener::bind(env("BIND", "127.0.0.1:3000")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    Ok(axum::serve(listener, app).await?)
}
