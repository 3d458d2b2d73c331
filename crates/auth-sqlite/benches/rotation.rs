//! `cargo bench -p auth-sqlite`: refresh-token rotation through `SqliteTokenStore` (the
//! service's two store calls per refresh: the lookup by hash, then the rotation
//! transaction with its audit row) beside the same statements through bare rusqlite
//! on one connection, in the same run on the same disk, alternated A-B-A-B against
//! load drift (ARCHITECTURE.md, "Benchmarks"). The store runs at 1 and 8 concurrent
//! clients; the bare side is one connection, SQLite's one writer.
//!
//! Knob: `AUTH_BENCH_SECONDS` per measurement (default 4). Runs only under `cargo
//! bench` (which passes `--bench`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_core::time::OffsetDateTime;
use auth_core::{
    AuditEvent, AuditKind, NewRefreshToken, RefreshToken, RefreshTokenStore, Rotation, SessionId,
    TokenHash, TokenId, UserDirectory, UserId,
};
use auth_sqlite::SqliteTokenStore;
use auth_sqlite::deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, params};

const SELECT_BY_HASH: &str = "SELECT id, user_id, session_id, generation, token_hash, issued_at, \
     expires_at, session_created_at, session_expires_at, rotated_at, replaced_by, revoked_at, \
     revoke_reason, reuse_count, user_agent, ip FROM refresh_tokens WHERE token_hash = ?1";
const RETIRE: &str = "UPDATE refresh_tokens SET rotated_at = ?1, replaced_by = ?2 \
     WHERE id = ?3 AND rotated_at IS NULL AND revoked_at IS NULL";
const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (id, user_id, session_id, generation, \
     token_hash, issued_at, expires_at, session_created_at, session_expires_at, user_agent, ip) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
const INSERT_AUDIT: &str = "INSERT INTO audit_logs (event_type, user_id, session_id, ip, \
     user_agent, details, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

fn token(user: UserId, session: SessionId, generation: i32, hash: TokenHash) -> NewRefreshToken {
    let now = OffsetDateTime::now_utc();
    NewRefreshToken {
        id: TokenId::new(),
        hash,
        user_id: user,
        session_id: session,
        generation,
        issued_at: now,
        expires_at: now + auth_core::time::Duration::days(14),
        session_created_at: now,
        session_expires_at: now + auth_core::time::Duration::days(30),
        user_agent: Some("bench".into()),
        ip: Some("127.0.0.1".into()),
        client_id: None,
        scope: None,
        device: Default::default(),
    }
}

fn audit(user: UserId, session: SessionId, generation: i32, at: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        kind: AuditKind::TokenRefreshed,
        user_id: Some(user),
        session_id: Some(session),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("bench".into()),
        details: serde_json::json!({"generation": generation, "classification": "rotation"}),
        at,
    }
}

/// One session's chain through the store, for `secs`: lookup, then rotation.
async fn store_chain(store: SqliteTokenStore, user: UserId, until: Instant, ops: Arc<AtomicU64>) {
    let session = SessionId::new();
    let mut secret = RefreshToken::generate();
    let first = token(user, session, 0, secret.hash());
    store.insert_refresh_token(&first).await.unwrap();
    while Instant::now() < until {
        let rec = store
            .find_refresh_token(&secret.hash())
            .await
            .unwrap()
            .unwrap();
        let next = RefreshToken::generate();
        let generation = rec.token.generation + 1;
        let now = OffsetDateTime::now_utc();
        let rotation = Rotation {
            current: rec.token.id,
            successor: token(user, session, generation, next.hash()),
            at: now,
            successor_seed: auth_core::SuccessorSeed::generate(),
            audit: audit(user, session, generation, now),
        };
        assert!(store.rotate_refresh_token(&rotation).await.unwrap());
        secret = next;
        ops.fetch_add(1, Ordering::Relaxed);
    }
}

async fn through_store(store: &SqliteTokenStore, user: UserId, clients: usize, secs: f64) -> f64 {
    let ops = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(store_chain(store.clone(), user, until, ops.clone())))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    ops.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn bare_insert(conn: &Connection, t: &NewRefreshToken) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT_REFRESH)?.execute(params![
        &t.id.0.as_bytes()[..],
        t.user_id.0,
        &t.session_id.0.as_bytes()[..],
        t.generation,
        &t.hash.as_bytes()[..],
        micros(t.issued_at),
        micros(t.expires_at),
        micros(t.session_created_at),
        micros(t.session_expires_at),
        t.user_agent,
        t.ip,
    ])?;
    Ok(())
}

/// The same statements on one bare connection in this thread, for `secs`.
fn through_bare(conn: &mut Connection, user: UserId, secs: f64) -> f64 {
    let session = SessionId::new();
    let mut secret = RefreshToken::generate();
    bare_insert(conn, &token(user, session, 0, secret.hash())).unwrap();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    let mut ops = 0u64;
    while Instant::now() < until {
        let found: Option<(Vec<u8>, i32)> = conn
            .prepare_cached(SELECT_BY_HASH)
            .unwrap()
            .query_row([&secret.hash().as_bytes()[..]], |r| {
                Ok((r.get(0)?, r.get(3)?))
            })
            .optional()
            .unwrap();
        let (id, generation) = found.unwrap();
        let next = RefreshToken::generate();
        let now = OffsetDateTime::now_utc();
        let successor = token(user, session, generation + 1, next.hash());
        let e = audit(user, session, generation + 1, now);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let retired = tx
            .prepare_cached(RETIRE)
            .unwrap()
            .execute(params![
                micros(now),
                &successor.id.0.as_bytes()[..],
                &id[..]
            ])
            .unwrap();
        assert_eq!(retired, 1);
        bare_insert(&tx, &successor).unwrap();
        tx.prepare_cached(INSERT_AUDIT)
            .unwrap()
            .execute(params![
                e.kind.as_str(),
                e.user_id.map(|u| u.0),
                e.session_id.map(|s| s.0.as_bytes().to_vec()),
                e.ip,
                e.user_agent,
                e.details.to_string(),
                micros(e.at),
            ])
            .unwrap();
        tx.commit().unwrap();
        secret = next;
        ops += 1;
    }
    ops as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: f64 = std::env::var("AUTH_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The pools close their connections on a blocking task when dropped, here in
    // `main` between the measured phases: that needs the runtime's context.
    let _context = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store.db");
    let bare_path = dir.path().join("bare.db");
    let (store, user) = rt.block_on(async {
        let migrated = |path: std::path::PathBuf| async move {
            let store = SqliteTokenStore::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            store
        };
        let store = migrated(store_path.clone()).await;
        let bare = migrated(bare_path.clone()).await;
        let new_user = |email: &str| auth_core::NewUser {
            email: email.into(),
            password_hash: None,
            created_at: OffsetDateTime::now_utc(),
        };
        let user = store
            .create_user(&new_user("bench@example.com"))
            .await
            .unwrap();
        let bare_user = bare
            .create_user(&new_user("bench@example.com"))
            .await
            .unwrap();
        assert_eq!(user, bare_user);
        bare.pool().close();
        (store, user)
    });
    let mut conn = Connection::open(&bare_path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();

    println!(
        "SQLite refresh rotation, ops/s (lookup + rotation transaction with audit row); \
         {secs} s per side, A-B-A-B; machine may be shared, so only the ratios mean much:"
    );
    println!("  clients      store   bare rusqlite (1 conn)   store/bare");
    for clients in [1usize, 8] {
        let mut store_ops = Vec::new();
        let mut bare_ops = Vec::new();
        for _ in 0..2 {
            store_ops.push(rt.block_on(through_store(&store, user, clients, secs / 2.0)));
            bare_ops.push(through_bare(&mut conn, user, secs / 2.0));
        }
        let s = store_ops.iter().sum::<f64>() / 2.0;
        let b = bare_ops.iter().sum::<f64>() / 2.0;
        println!("  {clients:>7} {s:>10.0} {b:>24.0} {:>12.2}x", s / b);
    }
}
