//! Command-line arguments of `stockade watch`.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Pretty text on a terminal, JSON lines otherwise.
    Auto,
    /// JSON lines, schema `stockade.watch/v1` (docs/watch.md).
    Json,
    /// One or two lines per event, for people.
    Text,
}

/// How the sensor hooks the syscalls it watches (docs/watch.md, docs/benchmarks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyscallHooks {
    /// One program on the raw `sys_enter` tracepoint: cheap for the watched syscalls (open...),
    /// but every syscall of every task runs it.
    Dispatcher,
    /// One perf-based `syscalls:sys_enter_*` tracepoint per watched syscall: other syscalls
    /// cost less, each watched one (open...) costs more.
    Tracepoints,
    /// The lean tier: no syscall hook at all (no syscall slow path); behaviours are seen
    /// through the capability check they make (capability:cap_capable) and io_uring's own
    /// tracepoint. Some behaviours are not covered (printed at start-up, docs/watch.md).
    None,
}

impl SyscallHooks {
    pub fn name(self) -> &'static str {
        match self {
            SyscallHooks::Dispatcher => "dispatcher",
            SyscallHooks::Tracepoints => "tracepoints",
            SyscallHooks::None => "none",
        }
    }
}

/// Watch running containers for escape behaviour (eBPF) and, with --enforce, block it.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  stockade watch                                  report escape behaviour of every container
  stockade watch --enforce -o /var/log/skd.jsonl  block what this kernel allows, log JSON lines
  stockade watch --probe                          print what this kernel allows and exit
  stockade watch --rules watch-rules.toml --metrics 127.0.0.1:9464

The first log line (stderr) states the enforcement tier this kernel allows:
  a  BPF-LSM programs deny before the effect (needs trampolines and `bpf` in the LSM list)
  b  cgroup BPF denies device access, mknod and escape sysctls;
     other behaviours (mount, setns, ptrace, bpf, rare socket families...) are killed after the fact
  c  detect, and kill after the fact (reactive)
Exit codes: 0 stopped normally, 1 nothing could be loaded, 2 usage error.")]
pub struct WatchArgs {
    /// Block behaviour (tiers a-c as the kernel allows). Default: detect and report only.
    #[arg(long)]
    pub enforce: bool,
    /// Write events to FILE instead of stdout (appends).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Auto)]
    pub format: OutputFormat,
    /// TOML file that enables, disables or re-grades rules (see docs/watch.md).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (loopback only), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Extra runc state directory (`runc --root`) used to attribute runc containers; repeatable.
    #[arg(long = "runc-root", value_name = "DIR")]
    pub runc_roots: Vec<PathBuf>,
    /// Extra stockade state directory (`stockade --root`) used to attribute stockade containers;
    /// repeatable. `$STOCKADE_STATE_DIR` (default /run/stockade) is always consulted too.
    #[arg(long = "stockade-root", value_name = "DIR")]
    pub stockade_roots: Vec<PathBuf>,
    /// Only report on, and enforce on, containers whose id starts with ID; repeatable (default:
    /// every container).
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// With --enforce: also confine this cgroup2 directory as if it were a container (e.g. a
    /// systemd slice, or a test cgroup); repeatable.
    #[arg(long = "cgroup", value_name = "DIR")]
    pub cgroups: Vec<std::path::PathBuf>,
    /// Also report behaviour of host processes (in private namespaces), as container "host".
    #[arg(long)]
    pub include_host: bool,
    /// Stop after SECONDS (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Probe the kernel, print the tier and what works, and exit.
    #[arg(long)]
    pub probe: bool,
    /// Wake the reader when this many KiB are pending in the ring buffer (it also polls every
    /// 50 ms), so bursts cost one wake-up, not one per event.
    #[arg(long, value_name = "KIB", default_value_t = 256)]
    pub wakeup_kib: u64,
    /// How to hook the watched syscalls: `dispatcher` and `tracepoints` see the same events at different costs; `none` costs nothing per syscall and sees fewer.
    #[arg(long, value_enum, value_name = "STYLE", default_value_t = SyscallHooks::Dispatcher)]
    pub syscall_hooks: SyscallHooks,
    /// With `--syscall-hooks none`: also report block-device opens (SKD-ESC-038) through a
    /// report-only cgroup/dev program, which runs on every device-node open, /dev/null included
    /// (a few per cent on a /dev/null open/close loop; nothing on regular files).
    #[arg(long)]
    pub lean_devices: bool,
    /// Print ring-buffer statistics to stderr every SECONDS (0: only at exit).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub stats_interval: u64,
}
