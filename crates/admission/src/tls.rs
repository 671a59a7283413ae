//! TLS: the serving certificate, reloaded from disk without a restart, and `stockade admission
//! certs`, which writes a CA and a serving certificate for local use.
//!
//! rustls with the `ring` provider only (no aws-lc, no C toolchain beyond ring's). Certificates
//! and keys are read as PEM with `rustls-pki-types`' `PemObject`.

use rustls::crypto::ring as provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

pub const CA_CERT: &str = "ca.crt";
pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate in the file")]
    NoCert { path: String },
    #[error("{path}: {reason}")]
    Pem { path: String, reason: String },
    #[error("{path}: the key does not fit the certificate or is unsupported: {reason}")]
    Key { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("generating certificates: {0}")]
    Generate(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Read `tls.crt` (chain) and `tls.key` from a directory into a signing key for rustls.
pub fn load_certified_key(dir: &Path) -> Result<CertifiedKey, TlsError> {
    let cert_path = dir.join(TLS_CERT);
    let key_path = dir.join(TLS_KEY);
    let cert_pem = std::fs::read(&cert_path).map_err(io_err(&cert_path))?;
    let key_pem = std::fs::read(&key_path).map_err(io_err(&key_path))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: cert_path.display().to_string(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: cert_path.display().to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        path: key_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let provider = provider::default_provider();
    let ck = CertifiedKey::from_der(certs, key, &provider).map_err(|e| TlsError::Key {
        path: key_path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(ck)
}

/// The files' modification times and sizes: a change in either means "reload".
type Stamp = Option<[(SystemTime, u64); 2]>;

fn stamp(dir: &Path) -> Stamp {
    let one = |name: &str| {
        let m = std::fs::metadata(dir.join(name)).ok()?;
        Some((m.modified().ok()?, m.len()))
    };
    Some([one(TLS_CERT)?, one(TLS_KEY)?])
}

/// A certificate resolver whose certificate can be replaced while the server runs.
#[derive(Debug)]
pub struct ReloadingCert {
    dir: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

impl ReloadingCert {
    pub fn load(dir: &Path) -> Result<Self, TlsError> {
        let stamp = stamp(dir);
        let ck = load_certified_key(dir)?;
        Ok(ReloadingCert {
            dir: dir.to_path_buf(),
            current: RwLock::new((Arc::new(ck), stamp)),
        })
    }

    /// Reload when the files changed. `Ok(true)`: a new certificate is served from now on;
    /// `Ok(false)`: unchanged; `Err`: the new files are unreadable (for instance half-written)
    /// and the old certificate stays; the next call tries again.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.dir);
        let known = match self.current.read() {
            Ok(g) => g.1,
            Err(p) => p.into_inner().1,
        };
        if now.is_none() || now == known {
            return Ok(false);
        }
        let ck = load_certified_key(&self.dir)?;
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = (Arc::new(ck), now);
        Ok(true)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current.read() {
            Ok(g) => Some(g.0.clone()),
            Err(p) => Some(p.into_inner().0.clone()),
        }
    }
}

/// The rustls server configuration: TLS 1.2 and 1.3, HTTP/1.1 by ALPN, the reloading resolver.
pub fn server_config(resolver: Arc<ReloadingCert>) -> Result<ServerConfig, TlsError> {
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Roughly the current year (for certificate validity; a day's precision is not needed).
fn current_year() -> i32 {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    1970 + (secs / 31_556_952) as i32
}

/// Write `ca.crt`, `tls.crt` and `tls.key` into `out`: a new CA and a serving certificate it
/// signed for `localhost`, `127.0.0.1`, `::1` and each of `dns`. The key file is mode 0600.
pub fn generate(out: &Path, dns: &[String]) -> Result<(), TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let gen = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let year = current_year();

    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(gen)?;
    ca.distinguished_name
        .push(DnType::CommonName, "stockade admission CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    ca.not_after = rcgen::date_time_ymd(year + 5, 1, 1);
    let ca_key = KeyPair::generate().map_err(gen)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(gen)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.extend(dns.iter().cloned());
    let mut leaf = CertificateParams::new(names).map_err(gen)?;
    let cn = dns.first().map(String::as_str).unwrap_or("localhost");
    leaf.distinguished_name.push(DnType::CommonName, cn);
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
    let leaf_key = KeyPair::generate().map_err(gen)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(gen)?;

    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let write = |name: &str, text: &str, private: bool| -> Result<(), TlsError> {
        let path = out.join(name);
        // Write beside, then rename: a watching server never sees a half-written file.
        let tmp = out.join(format!(".{name}.tmp"));
        {
            use std::io::Write;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                o.mode(if private { 0o600 } else { 0o644 });
            }
            let mut f = o.open(&tmp).map_err(io_err(&tmp))?;
            f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    };
    write(CA_CERT, &ca_cert.pem(), false)?;
    // Key first: a reload that sees the new certificate then finds its key already in place.
    write(TLS_KEY, &leaf_key.serialize_pem(), true)?;
    write(TLS_CERT, &leaf_cert.pem(), false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "stockade-tls-{name}-{}-{:?}",
            std::process::id(),
            SystemTime::now()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn generated_certificates_load_and_reload() {
        let d = tempdir("gen");
        generate(&d, &["stockade.stockade-system.svc".into()]).unwrap();
        for f in [CA_CERT, TLS_CERT, TLS_KEY] {
            assert!(d.join(f).is_file(), "{f}");
        }
        let r = ReloadingCert::load(&d).unwrap();
        assert!(!r.reload_if_changed().unwrap());
        std::thread::sleep(std::time::Duration::from_millis(20));
        generate(&d, &[]).unwrap();
        assert!(r.reload_if_changed().unwrap());
        // A broken key keeps the old certificate and reports the file.
        std::fs::write(d.join(TLS_KEY), "garbage").unwrap();
        let e = r.reload_if_changed().unwrap_err();
        assert!(e.to_string().contains("tls.key"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_files_name_the_path() {
        let d = tempdir("missing");
        let e = ReloadingCert::load(&d).unwrap_err();
        assert!(e.to_string().contains("tls.crt"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
