//! Naming one test database on a server.

/// `server` with its database replaced by `name` (query options kept):
/// `mysql://root@host:3306/test?x=1` and `t1` give `mysql://root@host:3306/t1?x=1`.
pub fn database_url(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(q) => format!("{}/{name}?{q}", &base[..path]),
        None => format!("{}/{name}", &base[..path]),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_is_replaced_and_options_kept() {
        assert_eq!(
            database_url("mysql://root@h:3306/test?ssl=false", "t1"),
            "mysql://root@h:3306/t1?ssl=false"
        );
        assert_eq!(
            database_url("postgres://p@h:5432", "t2"),
            "postgres://p@h:5432/t2"
        );
    }
}
