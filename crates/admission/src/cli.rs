//! `stockade admission serve` and `stockade admission certs`.

use crate::config::Config;
use crate::kubeconfig::ApiConfig;
use crate::nsapi::{ApiClient, NamespaceCache};
use crate::nslabels::NamespaceLabels;
use crate::review::Engine;
use crate::server::{Limits, Server};
use clap::{Args, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `stockade admission ...`
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  stockade admission certs --out tls --dns stockade-admission.stockade-system.svc
  stockade admission serve --tls-dir tls --listen 127.0.0.1:8443
  stockade admission serve --tls-dir tls --kubeconfig ~/.kube/config
  stockade admission serve --tls-dir /tls --config /etc/stockade/admission.toml \\
      --namespace-labels /var/run/stockade/namespaces.json

Endpoints: POST /validate, /validate/baseline, /validate/restricted, /validate/hardened,
/mutate; GET /healthz, /readyz, /metrics. See docs/admission.md.")]
pub struct AdmissionArgs {
    #[command(subcommand)]
    pub command: AdmissionCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdmissionCommand {
    /// Serve the admission webhook over HTTPS.
    Serve(ServeArgs),
    /// Write a CA and a serving certificate (ca.crt, tls.crt, tls.key) for local use.
    Certs(CertsArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Where namespace labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// The API server (in-cluster service account, or --kubeconfig), listed and watched.
    Api,
    /// The --namespace-labels snapshot file.
    File,
    /// None: the level comes from the request path (/validate/<level>).
    Path,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory with tls.crt and tls.key (reloaded when they change).
    #[arg(long, value_name = "DIR")]
    pub tls_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Configuration file (TOML): defaults, exemptions, mutation. See docs/admission.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where namespace labels come from. Default: `file` with --namespace-labels, `api` with
    /// --kubeconfig or when running in a pod with a service-account token, else `path`.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub namespace_source: Option<SourceKind>,
    /// Kubeconfig for the `api` source (current context; a token, token file or client
    /// certificate). Without it, the in-cluster service account is used.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Namespace labels snapshot (`kubectl get namespaces -o json`, or a map of namespace to
    /// labels), reloaded when it changes: the `file` source.
    #[arg(long, value_name = "FILE")]
    pub namespace_labels: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 3 * 1024 * 1024)]
    pub max_body: usize,
    /// Connections served at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// Seconds allowed for a TLS handshake, a request head, and a request body (each).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub read_timeout: u64,
    /// Seconds in-flight requests may take to finish after SIGTERM.
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub shutdown_grace: u64,
    /// Log output: one JSON object per line, or text. (Not `--log-format`: that is the
    /// runtime's runc-compatible global option.)
    #[arg(long, value_enum, default_value = "json")]
    pub log_output: LogFormat,
    /// Log filter (RUST_LOG syntax): `info` logs denials and warnings, `debug` every decision.
    #[arg(long, value_name = "FILTER", default_value = "info")]
    pub log_level: String,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory to write ca.crt, tls.crt and tls.key into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// DNS name for the serving certificate (repeatable), e.g.
    /// stockade-admission.stockade-system.svc. localhost, 127.0.0.1 and ::1 are always included.
    #[arg(long, value_name = "NAME")]
    pub dns: Vec<String>,
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => b.json().flatten_event(true).try_init(),
        LogFormat::Text => b.with_ansi(false).try_init(),
    };
}

/// What `stockade admission certs|serve` could not do. The Display starts with the subcommand
/// (`serve: ...`); the binary prints it after `stockade admission `.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The certificates could not be made or written.
    #[error("certs: {0}")]
    Certs(#[source] crate::tls::TlsError),
    /// `--config FILE`.
    #[error("serve: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// `--namespace-labels FILE`.
    #[error("serve: {0}")]
    Labels(#[from] crate::nslabels::LabelsError),
    /// The API server's address and credentials (`--kubeconfig`, or in-cluster).
    #[error("serve: {0}")]
    KubeConfig(#[from] crate::kubeconfig::KubeConfigError),
    /// Flags that do not go together, an API client or policy engine that cannot be built.
    #[error("serve: {0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("serve: cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The listener or its certificates.
    #[error("serve: {0}")]
    Serve(#[from] crate::server::ServeError),
}

impl Error {
    /// The process exit code: 2 for bad input (flags, files), 1 for a failure to serve.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Certs(_) | Error::Runtime(_) | Error::Serve(_) => 1,
            _ => 2,
        }
    }
}

/// Run a `stockade admission` command: exit code 0, or the error (the binary prints it).
pub fn run(args: AdmissionArgs) -> Result<ExitCode, Error> {
    match args.command {
        AdmissionCommand::Certs(a) => {
            crate::tls::generate(&a.out, &a.dns).map_err(Error::Certs)?;
            for f in [
                crate::tls::CA_CERT,
                crate::tls::TLS_CERT,
                crate::tls::TLS_KEY,
            ] {
                println!("{}", a.out.join(f).display());
            }
            Ok(ExitCode::SUCCESS)
        }
        AdmissionCommand::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> Result<ExitCode, Error> {
    init_logging(a.log_output, &a.log_level);
    let config = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let source = match a.namespace_source {
        Some(s) => s,
        None if a.namespace_labels.is_some() => SourceKind::File,
        None if a.kubeconfig.is_some() || ApiConfig::in_cluster_available() => SourceKind::Api,
        None => SourceKind::Path,
    };
    let conflict = match source {
        SourceKind::Api if a.namespace_labels.is_some() => Some("--namespace-labels"),
        SourceKind::File if a.kubeconfig.is_some() => Some("--kubeconfig"),
        SourceKind::Path if a.namespace_labels.is_some() => Some("--namespace-labels"),
        SourceKind::Path if a.kubeconfig.is_some() => Some("--kubeconfig"),
        _ => None,
    };
    if let Some(flag) = conflict {
        return Err(Error::Usage(format!(
            "{flag} does not go with --namespace-source {}",
            source
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        )));
    }
    let labels = match (source, &a.namespace_labels) {
        (SourceKind::File, Some(p)) => Some(NamespaceLabels::load(p)?),
        (SourceKind::File, None) => {
            return Err(Error::Usage(
                "--namespace-source file needs --namespace-labels FILE".into(),
            ));
        }
        _ => None,
    };
    let cache = if source == SourceKind::Api {
        let cfg = match &a.kubeconfig {
            Some(p) => ApiConfig::from_kubeconfig(p)?,
            None => ApiConfig::in_cluster()?,
        };
        let client = ApiClient::new(cfg).map_err(Error::Usage)?;
        Some(Arc::new(NamespaceCache::new(client)))
    } else {
        None
    };
    let engine = Engine::new(config, labels).map_err(Error::Usage)?;
    let engine = match &cache {
        Some(c) => engine.with_namespace_cache(c.clone()),
        None => engine,
    };
    match &cache {
        Some(c) => tracing::info!(
            source = "api",
            server = %c.client().config().url(),
            credentials = %c.client().config().origin,
            "namespace labels from the API server (list + watch); ready once listed"
        ),
        None => match &a.namespace_labels {
            Some(p) => {
                tracing::info!(source = "file", file = %p.display(), "namespace labels from a snapshot file")
            }
            None => tracing::info!(
                source = "path",
                "no namespace labels: the level comes from the request path"
            ),
        },
    }
    let timeout = Duration::from_secs(a.read_timeout.max(1));
    let limits = Limits {
        max_body: a.max_body,
        handshake_timeout: timeout,
        header_timeout: timeout,
        body_timeout: timeout,
        max_connections: a.max_connections.max(1),
        shutdown_grace: Duration::from_secs(a.shutdown_grace),
        ..Limits::default()
    };
    crate::server::tune_allocator();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = a.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build().map_err(Error::Runtime)?;
    rt.block_on(async move {
        let server = Server::bind(a.listen, a.tls_dir.clone(), engine, limits).await?;
        let watcher = cache.map(|c| tokio::spawn(c.run()));
        server.run(shutdown_signal()).await;
        if let Some(w) = watcher {
            w.abort();
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => tracing::info!("SIGTERM received"),
                _ = i.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
