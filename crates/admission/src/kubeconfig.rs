//! Where the API server is and how to authenticate to it: the in-cluster service-account
//! configuration or a kubeconfig file.
//!
//! Supported: an `https://` server; its CA as `certificate-authority` (file) or
//! `certificate-authority-data`; `tls-server-name`; a bearer `token` or `tokenFile`, or a client
//! certificate and key (file or `-data`). Everything else a kubeconfig can say that changes how
//! to connect (exec and auth-provider plugins, basic auth, impersonation, proxies,
//! `insecure-skip-tls-verify`) is refused with an error naming the field, rather than ignored.
//!
//! Tokens read from a file (in-cluster, `tokenFile`) are re-read every [`TOKEN_REREAD`], and
//! after the API server refuses one: bound service-account tokens rotate (the kubelet rewrites
//! the file well before expiry), so a token read once at start would stop working after an hour
//! or so.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the in-cluster service-account credentials are mounted.
pub const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// How often a token file is read again.
pub const TOKEN_REREAD: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum KubeConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a kubeconfig: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error("{path}: {field}: {reason}")]
    Field {
        path: String,
        field: String,
        reason: String,
    },
    #[error("in-cluster configuration: {0}")]
    InCluster(String),
}

/// How requests authenticate.
#[derive(Debug)]
pub enum Auth {
    None,
    Token(TokenSource),
    ClientCert {
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    },
}

/// A bearer token, fixed or read from a file and re-read every [`TOKEN_REREAD`].
#[derive(Debug)]
pub enum TokenSource {
    Fixed(String),
    File {
        path: PathBuf,
        cached: Mutex<(String, Instant)>,
    },
}

impl TokenSource {
    pub fn file(path: PathBuf) -> std::io::Result<TokenSource> {
        let t = read_token(&path)?;
        Ok(TokenSource::File {
            path,
            cached: Mutex::new((t, Instant::now())),
        })
    }

    /// Read the file again at the next use (the API server refused the token: it may have been
    /// rotated since it was read).
    pub fn invalidate(&self) {
        if let TokenSource::File { cached, .. } = self {
            let mut g = match cached.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if let Some(past) = Instant::now().checked_sub(TOKEN_REREAD) {
                g.1 = past;
            }
        }
    }

    /// The current token; a failed re-read keeps the previous one (and says so).
    pub fn token(&self) -> String {
        match self {
            TokenSource::Fixed(t) => t.clone(),
            TokenSource::File { path, cached } => {
                let mut g = match cached.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                if g.1.elapsed() >= TOKEN_REREAD {
                    match read_token(path) {
                        Ok(t) => *g = (t, Instant::now()),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e,
                                "cannot re-read the API server token; keeping the previous one");
                            g.1 = Instant::now();
                        }
                    }
                }
                g.0.clone()
            }
        }
    }
}

fn read_token(path: &Path) -> std::io::Result<String> {
    let t = std::fs::read_to_string(path)?;
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err(std::io::Error::other("the token file is empty"));
    }
    Ok(t)
}

/// Everything needed to reach the API server.
#[derive(Debug)]
pub struct ApiConfig {
    /// Host name or IP address, as in the server URL (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path prefix of the server URL (empty, or e.g. `/k8s/clusters/c-1`), without a trailing `/`.
    pub base_path: String,
    /// Name the server certificate must carry (`tls-server-name`, else the host).
    pub server_name: String,
    pub roots: Vec<CertificateDer<'static>>,
    pub auth: Auth,
    /// Where the configuration came from, for logs and errors.
    pub origin: String,
}

impl ApiConfig {
    /// The server URL, for logs.
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("https://{host}:{}{}", self.port, self.base_path)
    }

    /// Whether an in-cluster configuration is present (the service environment variables and the
    /// mounted token).
    pub fn in_cluster_available() -> bool {
        std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
            && std::env::var_os("KUBERNETES_SERVICE_PORT").is_some()
            && Path::new(SA_DIR).join("token").is_file()
    }

    /// The in-cluster configuration: `KUBERNETES_SERVICE_HOST` / `_PORT` and the mounted
    /// service-account token and CA.
    pub fn in_cluster() -> Result<ApiConfig, KubeConfigError> {
        let env = |k: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| KubeConfigError::InCluster(format!("{k} is not set")))
        };
        let host = env("KUBERNETES_SERVICE_HOST")?;
        let port = env("KUBERNETES_SERVICE_PORT")?;
        let port: u16 = port.parse().map_err(|_| {
            KubeConfigError::InCluster(format!("KUBERNETES_SERVICE_PORT: not a port: {port:?}"))
        })?;
        let dir = Path::new(SA_DIR);
        let ca = dir.join("ca.crt");
        let roots = read_certs(&ca).map_err(KubeConfigError::InCluster)?;
        let token = dir.join("token");
        let token = TokenSource::file(token.clone())
            .map_err(|e| KubeConfigError::InCluster(format!("{}: {e}", token.display())))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(ApiConfig {
            server_name: host.clone(),
            host,
            port,
            base_path: String::new(),
            roots,
            auth: Auth::Token(token),
            origin: "in-cluster service account".into(),
        })
    }

    /// A kubeconfig file's current context.
    pub fn from_kubeconfig(path: &Path) -> Result<ApiConfig, KubeConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KubeConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let kc: KubeConfig =
            serde_yaml_ng::from_str(&text).map_err(|source| KubeConfigError::Parse {
                path: shown.clone(),
                source,
            })?;
        let field = |field: &str, reason: String| KubeConfigError::Field {
            path: shown.clone(),
            field: field.to_string(),
            reason,
        };
        // Relative file references are relative to the kubeconfig, as kubectl reads them.
        let dir = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };

        let ctx_name = kc
            .current_context
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| field("current-context", "not set".into()))?;
        let ctx = kc
            .contexts
            .iter()
            .find(|c| c.name == ctx_name)
            .ok_or_else(|| field("contexts", format!("no context named {ctx_name:?}")))?;
        let cluster_name = &ctx.context.cluster;
        let cluster = kc
            .clusters
            .iter()
            .find(|c| &c.name == cluster_name)
            .ok_or_else(|| field("clusters", format!("no cluster named {cluster_name:?}")))?;
        let c = &cluster.cluster;
        let cf = |f: &str| format!("clusters[{cluster_name}].cluster.{f}");
        if let Some(k) = c.other.keys().next() {
            return Err(field(&cf(k), "not supported by stockade admission".into()));
        }
        if c.insecure_skip_tls_verify == Some(true) {
            return Err(field(
                &cf("insecure-skip-tls-verify"),
                "not supported: the API server's certificate is always verified".into(),
            ));
        }
        let (host, port, base_path) =
            parse_server(&c.server).map_err(|r| field(&cf("server"), r))?;
        let roots = match (&c.certificate_authority_data, &c.certificate_authority) {
            (Some(data), _) => {
                let pem = b64(data).map_err(|r| field(&cf("certificate-authority-data"), r))?;
                certs_from_pem(&pem).map_err(|r| field(&cf("certificate-authority-data"), r))?
            }
            (None, Some(file)) => {
                read_certs(&resolve(file)).map_err(|r| field(&cf("certificate-authority"), r))?
            }
            (None, None) => {
                return Err(field(
                    &cf("certificate-authority"),
                    "neither certificate-authority nor certificate-authority-data is set (the \
                     system roots are not used for an API server)"
                        .into(),
                ))
            }
        };
        let server_name = c.tls_server_name.clone().unwrap_or_else(|| host.clone());

        let user_name = &ctx.context.user;
        let uf = |f: &str| format!("users[{user_name}].user.{f}");
        let user = kc
            .users
            .iter()
            .find(|u| &u.name == user_name)
            .ok_or_else(|| field("users", format!("no user named {user_name:?}")))?;
        let u = &user.user;
        if let Some(k) = u.other.keys().next() {
            return Err(field(
                &uf(k),
                "not supported by stockade admission (use token, tokenFile or a client \
                 certificate)"
                    .into(),
            ));
        }
        let auth = if let Some(t) = &u.token {
            Auth::Token(TokenSource::Fixed(t.trim().to_string()))
        } else if let Some(f) = &u.token_file {
            let p = resolve(f);
            Auth::Token(
                TokenSource::file(p.clone())
                    .map_err(|e| field(&uf("tokenFile"), format!("{}: {e}", p.display())))?,
            )
        } else if let Some(cert_pem) = match (&u.client_certificate_data, &u.client_certificate) {
            (Some(d), _) => Some(b64(d).map_err(|r| field(&uf("client-certificate-data"), r))?),
            (None, Some(f)) => Some(
                std::fs::read(resolve(f))
                    .map_err(|e| field(&uf("client-certificate"), format!("{f}: {e}")))?,
            ),
            (None, None) => None,
        } {
            let chain = certs_from_pem(&cert_pem).map_err(|r| {
                field(
                    &uf(if u.client_certificate_data.is_some() {
                        "client-certificate-data"
                    } else {
                        "client-certificate"
                    }),
                    r,
                )
            })?;
            let (kf, key_pem) = match (&u.client_key_data, &u.client_key) {
                (Some(d), _) => (
                    "client-key-data",
                    b64(d).map_err(|r| field(&uf("client-key-data"), r))?,
                ),
                (None, Some(f)) => (
                    "client-key",
                    std::fs::read(resolve(f))
                        .map_err(|e| field(&uf("client-key"), format!("{f}: {e}")))?,
                ),
                (None, None) => {
                    return Err(field(
                        &uf("client-key"),
                        "a client certificate needs client-key or client-key-data".into(),
                    ))
                }
            };
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| field(&uf(kf), format!("no PEM private key: {e}")))?;
            Auth::ClientCert { chain, key }
        } else {
            Auth::None
        };
        Ok(ApiConfig {
            host,
            port,
            base_path,
            server_name,
            roots,
            auth,
            origin: format!("{shown} (context {ctx_name:?})"),
        })
    }
}

/// `https://host[:port][/path]` → (host, port, path).
fn parse_server(s: &str) -> Result<(String, u16, String), String> {
    let uri: axum::http::Uri = s.parse().map_err(|e| format!("not a URL {s:?}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{s:?}: only https:// API servers are supported"));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("{s:?}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if uri.query().is_some() {
        return Err(format!("{s:?}: a query string is not supported"));
    }
    let port = uri.port_u16().unwrap_or(443);
    let base = uri.path().trim_end_matches('/').to_string();
    Ok((host, port, base))
}

fn b64(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| format!("not base64: {e}"))
}

fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate".into());
    }
    Ok(certs)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    certs_from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

// The parts of a kubeconfig (client-go's clientcmd v1 Config) this reader uses. Unknown fields
// in clusters and users are collected and refused; elsewhere (preferences, extensions) ignored.

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct KubeConfig {
    current_context: Option<String>,
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<NamedUser>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    cluster: T,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: User,
}

#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: Context,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    tls_server_name: Option<String>,
    insecure_skip_tls_verify: Option<bool>,
    /// Accepted and without effect (responses here are small).
    #[serde(default, rename = "disable-compression")]
    _disable_compression: Option<bool>,
    #[serde(default, rename = "extensions")]
    _extensions: Option<serde_yaml_ng::Value>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct User {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<String>,
    #[serde(default, rename = "extensions")]
    _extensions: Option<serde_yaml_ng::Value>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_server_ca_and_token_and_names_unsupported_fields() {
        let dir = std::env::temp_dir().join(format!("stockade-kc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        crate::tls::generate(&dir, &[]).unwrap();
        let ok = write(
            &dir,
            "ok.yaml",
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443/\n    certificate-authority: ca.crt\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user: {token: abc}\n",
        );
        let c = ApiConfig::from_kubeconfig(&ok).unwrap();
        assert_eq!(c.url(), "https://127.0.0.1:6443");
        assert!(matches!(&c.auth, Auth::Token(t) if t.token() == "abc"));

        let exec = write(
            &dir,
            "exec.yaml",
            "current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority: ca.crt\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user:\n    exec: {command: aws}\n",
        );
        let e = ApiConfig::from_kubeconfig(&exec).unwrap_err().to_string();
        assert!(e.ends_with("exec.yaml: users[u].user.exec: not supported by stockade admission (use token, tokenFile or a client certificate)"), "{e}");

        let http = write(
            &dir,
            "http.yaml",
            "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'http://x:8080', certificate-authority: ca.crt}\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers: []\n",
        );
        let e = ApiConfig::from_kubeconfig(&http).unwrap_err().to_string();
        assert!(
            e.contains("clusters[k].cluster.server: \"http://x:8080\": only https://"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reads_client_certificates_and_inline_ca_data() {
        use base64::Engine as _;
        let dir = std::env::temp_dir().join(format!("stockade-kc-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        crate::tls::generate(&dir, &[]).unwrap();
        let ca = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(dir.join("ca.crt")).unwrap());
        let kc = write(
            &dir,
            "cert.yaml",
            &format!("current-context: c\nclusters:\n- name: k\n  cluster:\n    server: https://[::1]:6443/k8s/clusters/c-1\n    certificate-authority-data: {ca}\n    tls-server-name: localhost\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user:\n    client-certificate: tls.crt\n    client-key: tls.key\n"),
        );
        let c = ApiConfig::from_kubeconfig(&kc).unwrap();
        assert_eq!(c.host, "::1");
        assert_eq!(c.base_path, "/k8s/clusters/c-1");
        assert_eq!(c.server_name, "localhost");
        assert_eq!(c.url(), "https://[::1]:6443/k8s/clusters/c-1");
        assert!(matches!(&c.auth, Auth::ClientCert { chain, .. } if chain.len() == 1));
        crate::nsapi::ApiClient::new(c).unwrap();

        let nokey = write(
            &dir,
            "nokey.yaml",
            "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'https://h', certificate-authority: ca.crt}\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user: {client-certificate: tls.crt}\n",
        );
        let e = ApiConfig::from_kubeconfig(&nokey).unwrap_err().to_string();
        assert!(e.ends_with("nokey.yaml: users[u].user.client-key: a client certificate needs client-key or client-key-data"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
