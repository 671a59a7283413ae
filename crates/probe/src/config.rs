//! Targets the caller sets up for the battery (a scratch loop device, a canary file, a fake engine
//! socket, a sleeper process, …). Every flag also reads `STOCKADE_PROBE_<FLAG>` from the
//! environment (upper case, `-` → `_`), so a runtime's config.json can pass them as `env`.

use std::path::PathBuf;

/// What the battery may target. Nothing here is ever guessed: a technique without its target
/// reports `not-applicable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Path (inside the container) where a host canary file might be reachable (E12).
    pub canary: Option<PathBuf>,
    /// Host path of the canary, used through /proc/<pid>/root, setns and file handles (E13/E14/E26).
    pub host_canary: Option<PathBuf>,
    /// Expected canary text; when set, evidence must contain it.
    pub canary_content: Option<String>,
    /// Engine sockets to try, in addition to the well-known ones (E11).
    pub sockets: Vec<PathBuf>,
    /// Node services to connect to (E44): fake listeners the caller set up.
    pub services: Vec<Service>,
    /// major:minor of a scratch block device (a loop device) standing in for the host disk (E01).
    pub block_dev: Option<(u32, u32)>,
    /// File to read inside the block device's file system once mounted.
    pub block_canary: String,
    /// A host process of the caller's (a sleeper) for host-pid techniques (E13/E14/E15).
    pub target_pid: Option<i32>,
    /// A runtime process whose /proc/<pid>/exe should not be writable (E17).
    pub runtime_pid: Option<i32>,
    /// Host path of an lxcfs instance the caller runs (E48); the technique looks for any lxcfs
    /// mount in its own mount namespace, and names this one when it finds none.
    pub lxcfs: Option<PathBuf>,
    /// Why the caller runs no lxcfs (no /dev/fuse, no lxcfs binary): E48 is not applicable.
    pub no_lxcfs: Option<String>,
    /// Host path of a harmless program for the cgroup v1 release_agent (E02).
    pub release_agent: Option<PathBuf>,
    /// Container path where that program leaves its marker.
    pub release_marker: Option<PathBuf>,
    /// Process cap for the fork bomb (E28).
    pub fork_cap: usize,
    /// MiB to touch in the memory technique (E29).
    pub mem_mib: usize,
    /// Preferred scratch directory.
    pub scratch: Option<PathBuf>,
    /// Only run these technique ids (or E-numbers).
    pub only: Option<Vec<String>>,
    /// Skip these.
    pub skip: Vec<String>,
    pub json: bool,
    pub list: bool,
    /// Seconds before a technique is killed.
    pub timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            canary: None,
            host_canary: None,
            canary_content: None,
            sockets: Vec::new(),
            services: Vec::new(),
            block_dev: None,
            block_canary: "canary".into(),
            target_pid: None,
            runtime_pid: None,
            lxcfs: None,
            no_lxcfs: None,
            release_agent: None,
            release_marker: None,
            fork_cap: 4096,
            mem_mib: 256,
            scratch: None,
            only: None,
            skip: Vec::new(),
            json: false,
            list: false,
            timeout_secs: 60,
        }
    }
}

pub const USAGE: &str = "\
stockade-probe: the Stockade escape battery. Run it inside a container.

USAGE: stockade-probe [OPTIONS]

Output:
  --json                 JSON instead of the table
  --list                 list the techniques and exit
  --only ID,...          run only these ids (or E-numbers, e.g. E01,core-pattern)
  --skip ID,...          skip these
Targets (each also from STOCKADE_PROBE_<NAME>, e.g. STOCKADE_PROBE_CANARY):
  --canary PATH          container path where a host canary may be visible
  --host-canary PATH     host path of the canary (via /proc/PID/root, setns, file handles)
  --canary-content TEXT  expected canary text (evidence must contain it)
  --socket PATH          engine socket to try (repeatable; well-known paths are always tried)
  --service NAME=A.B.C.D:PORT  a node service to connect to (repeatable or comma-separated)
  --block-dev MAJ:MIN    scratch block device (a loop device) standing in for the host disk
  --block-canary NAME    file to read on that device once mounted (default: canary)
  --target-pid PID       a host process of yours (a sleeper), never pid 1
  --runtime-pid PID      a runtime process whose binary must not be writable
  --lxcfs PATH           host path of an lxcfs instance of yours (E48 looks for its mount)
  --no-lxcfs REASON      why no lxcfs runs on the host (E48 is then not applicable)
  --release-agent PATH   host path of a harmless program for the cgroup v1 release_agent
  --release-marker PATH  container path where that program leaves its marker
  --fork-cap N           stop the fork bomb at N processes (default 4096)
  --mem-mib N            MiB the memory technique touches (default 256)
  --scratch DIR          scratch directory (default: first writable of /tmp, /dev, /run, ...)
  --timeout SECS         per-technique timeout (default 60)
";

fn parse_pid(s: &str) -> Result<i32, String> {
    let p: i32 = s.trim().parse().map_err(|_| format!("not a pid: {s:?}"))?;
    if p <= 1 {
        return Err(format!(
            "refusing pid {p}: pass your own sleeper, never pid 1"
        ));
    }
    Ok(p)
}

pub fn parse_majmin(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("expected MAJ:MIN, got {s:?}"))?;
    let maj = a.parse().map_err(|_| format!("bad major in {s:?}"))?;
    let min = b.parse().map_err(|_| format!("bad minor in {s:?}"))?;
    Ok((maj, min))
}

/// A node service target (E44): a name for the report and an IPv4 address and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub addr: [u8; 4],
    pub port: u16,
}

/// `NAME=A.B.C.D:PORT`.
pub fn parse_service(s: &str) -> Result<Service, String> {
    let bad = || format!("expected NAME=A.B.C.D:PORT, got {s:?}");
    let (name, hp) = s.trim().split_once('=').ok_or_else(bad)?;
    let (h, p) = hp.rsplit_once(':').ok_or_else(bad)?;
    let ip: std::net::Ipv4Addr = h.parse().map_err(|_| bad())?;
    let port: u16 = p.parse().map_err(|_| bad())?;
    if name.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Service {
        name: name.to_string(),
        addr: ip.octets(),
        port,
    })
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

impl Config {
    /// Parse command-line arguments (without argv\[0\]) with `env` as the fallback source.
    pub fn parse<I, E>(args: I, env: E) -> Result<Config, String>
    where
        I: IntoIterator<Item = String>,
        E: Fn(&str) -> Option<String>,
    {
        let mut c = Config::default();
        let set = |c: &mut Config, key: &str, v: String| -> Result<(), String> {
            match key {
                "canary" => c.canary = Some(v.into()),
                "host-canary" => c.host_canary = Some(v.into()),
                "canary-content" => c.canary_content = Some(v),
                "socket" => c.sockets.extend(list(&v).into_iter().map(PathBuf::from)),
                "service" => {
                    for one in list(&v) {
                        c.services.push(parse_service(&one)?);
                    }
                }
                "block-dev" => c.block_dev = Some(parse_majmin(&v)?),
                "block-canary" => c.block_canary = v,
                "target-pid" => c.target_pid = Some(parse_pid(&v)?),
                "runtime-pid" => c.runtime_pid = Some(parse_pid(&v)?),
                "lxcfs" => c.lxcfs = Some(v.into()),
                "no-lxcfs" => c.no_lxcfs = Some(v),
                "release-agent" => c.release_agent = Some(v.into()),
                "release-marker" => c.release_marker = Some(v.into()),
                "fork-cap" => {
                    c.fork_cap = v.parse().map_err(|_| format!("bad --fork-cap {v:?}"))?;
                    c.fork_cap = c.fork_cap.clamp(1, 65536);
                }
                "mem-mib" => {
                    c.mem_mib = v.parse().map_err(|_| format!("bad --mem-mib {v:?}"))?;
                    c.mem_mib = c.mem_mib.clamp(1, 16384);
                }
                "scratch" => c.scratch = Some(v.into()),
                "timeout" => {
                    c.timeout_secs = v.parse().map_err(|_| format!("bad --timeout {v:?}"))?
                }
                "only" => c.only = Some(list(&v)),
                "skip" => c.skip.extend(list(&v)),
                _ => return Err(format!("unknown option --{key}")),
            }
            Ok(())
        };
        const KEYS: [&str; 20] = [
            "canary",
            "host-canary",
            "canary-content",
            "socket",
            "service",
            "block-dev",
            "block-canary",
            "target-pid",
            "runtime-pid",
            "lxcfs",
            "no-lxcfs",
            "release-agent",
            "release-marker",
            "fork-cap",
            "mem-mib",
            "scratch",
            "timeout",
            "only",
            "skip",
            "json",
        ];
        for k in KEYS {
            let var = format!("STOCKADE_PROBE_{}", k.to_uppercase().replace('-', "_"));
            if let Some(v) = env(&var) {
                if k == "json" {
                    c.json = v == "1" || v == "true";
                } else {
                    set(&mut c, k, v)?;
                }
            }
        }
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--json" => c.json = true,
                "--list" => c.list = true,
                "-h" | "--help" => return Err(String::new()),
                _ if a.starts_with("--") => {
                    let body = &a[2..];
                    let (k, v) = match body.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => {
                            let v = it.next().ok_or_else(|| format!("--{body} needs a value"))?;
                            (body.to_string(), v)
                        }
                    };
                    set(&mut c, &k, v)?;
                }
                _ => return Err(format!("unexpected argument {a:?}")),
            }
        }
        Ok(c)
    }

    /// Whether the technique `id` (E-number `eid`) is selected by --only/--skip.
    pub fn selected(&self, id: &str, eid: &str) -> bool {
        let hit = |l: &[String]| l.iter().any(|x| x == id || x.eq_ignore_ascii_case(eid));
        if hit(&self.skip) {
            return false;
        }
        match &self.only {
            Some(l) => hit(l),
            None => true,
        }
    }
}
