//! Column limits, checked before a value reaches the database: strict `sql_mode`
//! refuses over-long values, and a lax server would truncate them silently.

use crate::error::MySqlError;

/// One column's limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    field: &'static str,
    max: usize,
    /// Count bytes (VARBINARY) rather than characters (VARCHAR).
    bytes: bool,
    /// Only ASCII fits (ascii columns).
    ascii: bool,
    reason: &'static str,
}

pub(crate) const EMAIL: Limit = Limit {
    field: "email",
    max: 254,
    bytes: true,
    ascii: false,
    reason: "must be at most 254 bytes",
};
pub(crate) const PASSWORD_HASH: Limit = Limit {
    field: "password_hash",
    max: 255,
    bytes: false,
    ascii: false,
    reason: "must be at most 255 characters",
};
pub(crate) const JTI: Limit = Limit {
    field: "jti",
    max: 64,
    bytes: true,
    ascii: false,
    reason: "must be at most 64 bytes",
};
pub(crate) const USER_AGENT: Limit = Limit {
    field: "user_agent",
    max: 512,
    bytes: false,
    ascii: false,
    reason: "must be at most 512 characters",
};
pub(crate) const IP: Limit = Limit {
    field: "ip",
    max: 45,
    bytes: false,
    ascii: true,
    reason: "must be at most 45 ASCII characters",
};
pub(crate) const CLIENT_ID: Limit = Limit {
    field: "client_id",
    max: 255,
    bytes: false,
    ascii: true,
    reason: "must be at most 255 ASCII characters",
};
pub(crate) const SCOPE: Limit = Limit {
    field: "scope",
    max: 1024,
    bytes: false,
    ascii: true,
    reason: "must be at most 1024 ASCII characters",
};
pub(crate) const DEVICE_ID: Limit = Limit {
    field: "device_id",
    max: 128,
    bytes: false,
    ascii: false,
    reason: "must be at most 128 characters",
};
pub(crate) const DEVICE_NAME: Limit = Limit {
    field: "device_name",
    max: 128,
    bytes: false,
    ascii: false,
    reason: "must be at most 128 characters",
};
pub(crate) const DPOP_JKT: Limit = Limit {
    field: "dpop_jkt",
    max: 128,
    bytes: false,
    ascii: true,
    reason: "must be at most 128 ASCII characters",
};
pub(crate) const REVOKE_REASON: Limit = Limit {
    field: "revoke_reason",
    max: 32,
    bytes: false,
    ascii: true,
    reason: "must be at most 32 ASCII characters",
};
pub(crate) const EVENT_TYPE: Limit = Limit {
    field: "event_type",
    max: 32,
    bytes: false,
    ascii: true,
    reason: "must be at most 32 ASCII characters",
};

impl Limit {
    /// Whether the value fits the column.
    pub(crate) fn fits(&self, value: &str) -> bool {
        let len = if self.bytes {
            value.len()
        } else {
            value.chars().count()
        };
        len <= self.max && (!self.ascii || value.is_ascii())
    }

    /// Refuses a value that does not fit.
    pub(crate) fn check(&self, value: &str) -> Result<(), MySqlError> {
        if self.fits(value) {
            Ok(())
        } else {
            Err(MySqlError::ValueTooLong {
                field: self.field,
                reason: self.reason,
            })
        }
    }

    /// Refuses an optional value that does not fit.
    pub(crate) fn check_opt(&self, value: Option<&str>) -> Result<(), MySqlError> {
        value.map_or(Ok(()), |v| self.check(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_what_the_column_counts() {
        assert!(USER_AGENT.fits(&"é".repeat(512)));
        assert!(!USER_AGENT.fits(&"é".repeat(513)));
        assert!(JTI.fits(&"a".repeat(64)));
        assert!(!JTI.fits(&"é".repeat(33)), "VARBINARY counts bytes");
        assert!(IP.fits("2001:db8::1"));
        assert!(!IP.fits("１２７.0.0.1"), "the ip column is ASCII");
        assert!(matches!(
            IP.check(&"1".repeat(46)),
            Err(MySqlError::ValueTooLong { field: "ip", .. })
        ));
        assert!(EMAIL.check_opt(None).is_ok());
    }
}
