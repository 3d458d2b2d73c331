//! Key files: JSON [`KeyringSpec`]s written with mode 0600, and the development keyring.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use auth_core::{Keyring, KeyringSpec, SigningAlgorithm};

use crate::config::{DEV_KEY_FILE, Settings};

/// Writes a key file readable by its owner only. Refuses to replace an existing file
/// unless `replace` (then the new content is written beside it and renamed over it).
pub fn write_key_file(path: &Path, spec: &KeyringSpec, replace: bool) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(spec).context("serialising the keyring")?;
    let target = if replace {
        tmp_path(path)
    } else {
        path.to_path_buf()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    if replace {
        let _ = std::fs::remove_file(&target);
    }
    let mut file = options
        .open(&target)
        .with_context(|| format!("creating {}", target.display()))?;
    file.write_all(json.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    drop(file);
    if replace {
        std::fs::rename(&target, path).with_context(|| format!("replacing {}", path.display()))?;
    }
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Reads a key file as a spec.
pub fn read_key_spec(path: &Path) -> anyhow::Result<KeyringSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading key file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing key file {}", path.display()))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "key file is readable by group or others; chmod 600 it");
        }
    }
}

/// The keyring of these settings. With a configured key file, that file must exist.
/// Without one, the development keyring in [`DEV_KEY_FILE`] is used, and created
/// (ES256, mode 0600) on first run, with a warning that it is for development only.
pub fn load_keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let (path, dev) = match &settings.key_file {
        Some(path) => (path.clone(), false),
        None => (PathBuf::from(DEV_KEY_FILE), true),
    };
    if !path.exists() {
        if !dev {
            bail!(
                "key file {} does not exist; create one with `authd keys generate --key-file {}`",
                path.display(),
                path.display()
            );
        }
        let spec = KeyringSpec::generate("dev-1", SigningAlgorithm::ES256)
            .context("generating the dev key")?;
        write_key_file(&path, &spec, false)?;
        tracing::warn!(
            path = %path.display(),
            "created a DEVELOPMENT signing key; for production generate one with `authd keys generate --key-file PATH` and pass --key-file"
        );
    } else if dev {
        tracing::warn!(path = %path.display(), "using the DEVELOPMENT signing key; pass --key-file in production");
    }
    warn_if_readable_by_others(&path);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading key file {}", path.display()))?;
    Keyring::from_json(&text).with_context(|| format!("loading key file {}", path.display()))
}

/// `keys generate`: a new key file, or with `rotate` a new key added to an existing
/// file and made the signing key (the old keys keep verifying).
pub fn generate_key_file(
    path: &Path,
    alg: SigningAlgorithm,
    kid: &str,
    rotate: bool,
) -> anyhow::Result<KeyringSpec> {
    let fresh = KeyringSpec::generate(kid, alg).context("generating the key")?;
    let spec = if path.exists() {
        if !rotate {
            bail!(
                "{} exists; pass --rotate to add a new signing key to it",
                path.display()
            );
        }
        let mut spec = read_key_spec(path)?;
        if spec.keys.iter().any(|k| k.kid == kid) {
            bail!(
                "{} already has a key with kid `{kid}`; choose another --kid",
                path.display()
            );
        }
        spec.keys.extend(fresh.keys);
        spec.active = kid.to_owned();
        spec
    } else {
        fresh
    };
    Keyring::from_spec(&spec).context("checking the new keyring")?;
    write_key_file(path, &spec, rotate && path.exists())?;
    Ok(spec)
}

/// `keys generate --standby`: adds a new key to an existing file without making it
/// the signing key. Once loaded (restart or SIGHUP) it is published in the JWKS, so
/// resource servers cache it before `keys activate` makes it sign.
pub fn add_standby_key(
    path: &Path,
    alg: SigningAlgorithm,
    kid: &str,
) -> anyhow::Result<KeyringSpec> {
    let mut spec = read_key_spec(path)?;
    if spec.keys.iter().any(|k| k.kid == kid) {
        bail!("{} already has a key with kid `{kid}`", path.display());
    }
    spec.keys.extend(
        KeyringSpec::generate(kid, alg)
            .context("generating the key")?
            .keys,
    );
    Keyring::from_spec(&spec).context("checking the new keyring")?;
    write_key_file(path, &spec, true)?;
    Ok(spec)
}

/// `keys activate KID`: makes a listed key the signing key. The previous one stays in
/// the file (retired), so the tokens it signed keep verifying until they expire.
pub fn activate_key(path: &Path, kid: &str) -> anyhow::Result<KeyringSpec> {
    let mut spec = read_key_spec(path)?;
    if !spec.keys.iter().any(|k| k.kid == kid) {
        bail!("{} has no key with kid `{kid}`", path.display());
    }
    spec.active = kid.to_owned();
    Keyring::from_spec(&spec).context("checking the new keyring")?;
    write_key_file(path, &spec, true)?;
    Ok(spec)
}

/// `keys remove KID`: drops a retired key (never the signing one). Tokens it signed
/// stop verifying: wait the access-token lifetime after its successor was activated.
pub fn remove_key(path: &Path, kid: &str) -> anyhow::Result<KeyringSpec> {
    let mut spec = read_key_spec(path)?;
    if spec.active == kid {
        bail!("`{kid}` is the signing key; activate another key first");
    }
    let before = spec.keys.len();
    spec.keys.retain(|k| k.kid != kid);
    if spec.keys.len() == before {
        bail!("{} has no key with kid `{kid}`", path.display());
    }
    Keyring::from_spec(&spec).context("checking the new keyring")?;
    write_key_file(path, &spec, true)?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keyring_is_created_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let first = generate_key_file(&path, SigningAlgorithm::EdDSA, "k1", false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(generate_key_file(&path, SigningAlgorithm::EdDSA, "k2", false).is_err());
        let rotated = generate_key_file(&path, SigningAlgorithm::ES256, "k2", true).unwrap();
        assert_eq!(rotated.active, "k2");
        assert_eq!(rotated.keys.len(), 2);
        assert_eq!(rotated.keys[0], first.keys[0]);
        let settings = Settings {
            key_file: Some(path.clone()),
            ..Settings::default()
        };
        let ring = load_keyring(&settings).unwrap();
        assert_eq!(ring.active_kid(), "k2");
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
        let standby = add_standby_key(&path, SigningAlgorithm::ES256, "k3").unwrap();
        assert_eq!(standby.active, "k2", "a standby key does not sign");
        assert_eq!(
            load_keyring(&settings).unwrap().jwks()["keys"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(remove_key(&path, "k2").is_err(), "the signing key stays");
        assert_eq!(activate_key(&path, "k3").unwrap().active, "k3");
        assert_eq!(remove_key(&path, "k1").unwrap().keys.len(), 2);
        assert!(activate_key(&path, "k1").is_err());
        let missing = Settings {
            key_file: Some(dir.path().join("nope.json")),
            ..Settings::default()
        };
        assert!(load_keyring(&missing).is_err());
    }
}
