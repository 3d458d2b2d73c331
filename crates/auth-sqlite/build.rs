//! Embeds `../../migrations-sqlite/NNNN_name.{up,down}.sql` into the crate: writes
//! `$OUT_DIR/migrations.rs`, a sorted array of `Migration`s built with `include_str!`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

const DIR: &str = "../../migrations-sqlite";

#[derive(Default)]
struct Pair {
    name: String,
    up: Option<PathBuf>,
    down: Option<PathBuf>,
}

fn main() {
    println!("cargo:rerun-if-changed={DIR}");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join(DIR);
    let dir = dir
        .canonicalize()
        .unwrap_or_else(|e| panic!("migrations folder {}: {e}", dir.display()));

    let mut pairs: BTreeMap<i64, Pair> = BTreeMap::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_owned();
        let (stem, is_up) = if let Some(s) = file.strip_suffix(".up.sql") {
            (s, true)
        } else if let Some(s) = file.strip_suffix(".down.sql") {
            (s, false)
        } else {
            continue;
        };
        println!("cargo:rerun-if-changed={}", path.display());
        let (number, name) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("migration file {file} is not NNNN_name.(up|down).sql"));
        let version: i64 =
            number.parse().ok().filter(|v| *v > 0).unwrap_or_else(|| {
                panic!("migration file {file}: version must be a positive number")
            });
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "migration file {file}: name must be [A-Za-z0-9_]+"
        );
        let pair = pairs.entry(version).or_default();
        assert!(
            pair.name.is_empty() || pair.name == name,
            "migration version {version} has two names: {} and {name}",
            pair.name
        );
        pair.name = name.to_owned();
        let slot = if is_up { &mut pair.up } else { &mut pair.down };
        assert!(slot.is_none(), "migration file {file} is duplicated");
        *slot = Some(path);
    }

    let mut code = String::from(
        "/// Every embedded migration, by increasing version.\n\
         pub(crate) static MIGRATIONS: &[Migration] = &[\n",
    );
    for (version, pair) in &pairs {
        let up = pair
            .up
            .as_ref()
            .unwrap_or_else(|| panic!("migration {version} has no .up.sql"));
        let down = pair
            .down
            .as_ref()
            .unwrap_or_else(|| panic!("migration {version} has no .down.sql"));
        writeln!(
            code,
            "    Migration {{ version: {version}, name: {name:?}, up: include_str!({up:?}), down: include_str!({down:?}) }},",
            name = pair.name,
            up = up.display().to_string(),
            down = down.display().to_string(),
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    assert!(
        !pairs.is_empty(),
        "no migrations found in {}",
        dir.display()
    );

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    fs::write(&out, code).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
