//! Which MySQL/MariaDB failures are transient (the server is out of reach, going away,
//! overloaded, or timed the statement out) and which are permanent.
//!
//! diesel-async keeps the server's message but not its error code, and reports
//! driver and I/O failures as unclassified database errors whose message is the
//! `mysql_async` error's text; the prefixes below are those texts.

use diesel::ConnectionError;
use diesel::result::Error as DieselError;

/// Messages (prefixes) of failures that a later attempt may not see.
const TRANSIENT_MESSAGES: [&str; 10] = [
    // mysql_async: the socket failed or the server closed the connection.
    "Input/output error",
    "Driver error",
    "Connection to the server is closed",
    // Server errors: 1213 deadlock (after the retries), 1205 lock wait timeout,
    // 1053 shutdown, 1927 connection killed, 1040 too many connections,
    // 1317/1969 (MariaDB max_statement_time) and 3024 (MySQL max_execution_time).
    "Deadlock found",
    "Lock wait timeout exceeded",
    "Server shutdown in progress",
    "Connection was killed",
    "Too many connections",
    "Query execution was interrupted",
    "WSREP has not yet prepared node",
];

/// Whether a statement's failure is transient.
pub(crate) fn diesel_error(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            TRANSIENT_MESSAGES.iter().any(|m| message.starts_with(m))
        }
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

/// Whether a failure to open or set up a connection is transient.
pub(crate) fn connection_error(e: &ConnectionError) -> bool {
    match e {
        ConnectionError::BadConnection(_) => true,
        ConnectionError::CouldntSetupConfiguration(e) => diesel_error(e),
        _ => false,
    }
}
