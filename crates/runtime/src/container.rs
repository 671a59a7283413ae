//! Lifecycle operations: create, start, run, state, kill, delete, exec,
//! pause, resume, ps, list. Each takes the container's lock first.

use crate::bundle::Bundle;
use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use crate::init::{self, InitConfig};
use crate::spawn::{self, Target};
use crate::state::{ContainerState, Locked, Status, Store};
use crate::sync::{tag, Channel};
use crate::{hooks, rootfs, util};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Where the policy gate's warnings go (the CLI logs them).
pub type WarningSink = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// Options of `create` and `run`.
#[derive(Default, Clone)]
pub struct CreateOpts {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    /// The policy gate's level (see [`crate::gate`]).
    pub policy: Option<crate::gate::Policy>,
    /// Receives the gate's warnings under `--policy warn`.
    pub on_warning: Option<WarningSink>,
    /// Turn off the Landlock confinement of the container process.
    pub no_landlock: bool,
    /// Rules the gate does not judge (runtime.toml `ignore`).
    pub policy_ignore: Vec<String>,
    /// Without config.json, use the hardened default with this
    /// `process.terminal` (`run` only).
    pub default_terminal: Option<bool>,
    /// The systemd cgroup driver (`--systemd-cgroup`, cgroups/systemd.rs).
    pub systemd_cgroup: bool,
}

fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::empty(),
    }
}

fn ns_proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

fn open_ns(path: &Path, field: &str) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("{field}: open {}", path.display()), e))
}

/// Fds passed through `LISTEN_FDS` (socket activation), if meant for us.
fn listen_fds() -> i32 {
    let n: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_none_or(|p| p == std::process::id());
    if pid_ok {
        n.max(0)
    } else {
        0
    }
}

fn connect_console(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path)
        .map_err(|e| Error::Usage(format!("--console-socket {}: {e}", path.display())))
}

fn start_sock(dir: &Path) -> PathBuf {
    dir.join("start.sock")
}

/// Bind a unix socket at `path`, working around the 108-byte sun_path limit
/// by going through an fd of the parent directory.
fn bind_long(path: &Path) -> Result<UnixListener> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let dir = std::fs::File::open(parent).map_err(|e| Error::io(parent, e))?;
    let short = format!(
        "/proc/self/fd/{}/{}",
        dir.as_raw_fd(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("sock")
    );
    UnixListener::bind(&short).map_err(|e| Error::io(path, e))
}

fn connect_long(path: &Path) -> std::io::Result<UnixStream> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let dir = std::fs::File::open(parent)?;
    let short = format!(
        "/proc/self/fd/{}/{}",
        dir.as_raw_fd(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("sock")
    );
    UnixStream::connect(&short)
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    util::write_atomic(&abs, pid.to_string().as_bytes(), 0o644).map_err(|e| Error::io(&abs, e))
}

/// Write uid_map/gid_map of a process in a new user namespace.
fn write_id_maps(pid: Pid, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    for (file, maps, field) in [
        (
            "gid_map",
            linux.and_then(|l| l.gid_mappings().clone()),
            "linux.gidMappings",
        ),
        (
            "uid_map",
            linux.and_then(|l| l.uid_mappings().clone()),
            "linux.uidMappings",
        ),
    ] {
        let maps = maps.unwrap_or_default();
        // SAFETY: geteuid/getegid cannot fail.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid != 0 {
            // Rootless (as runc): our own id alone is written directly, once
            // setgroups is denied (the kernel's rule for an unprivileged
            // gid_map); anything more goes through the setuid helpers, which
            // check /etc/subuid and /etc/subgid.
            let own = if file == "gid_map" { egid } else { euid };
            if let [m] = maps.as_slice() {
                if m.host_id() == own && m.size() == 1 {
                    if file == "gid_map" {
                        let sg = format!("/proc/{pid}/setgroups");
                        std::fs::write(&sg, "deny")
                            .map_err(|e| Error::field(field, format!("write {sg}: {e}")))?;
                    }
                    let p = format!("/proc/{pid}/{file}");
                    let body = format!("{} {} 1\n", m.container_id(), own);
                    std::fs::write(&p, body)
                        .map_err(|e| Error::field(field, format!("write {p}: {e}")))?;
                    continue;
                }
            }
            let helper = if file == "gid_map" {
                "newgidmap"
            } else {
                "newuidmap"
            };
            let mut cmd = std::process::Command::new(helper);
            cmd.arg(pid.to_string());
            for m in &maps {
                cmd.args([
                    m.container_id().to_string(),
                    m.host_id().to_string(),
                    m.size().to_string(),
                ]);
            }
            let out = cmd.output().map_err(|e| {
                Error::field(
                    field,
                    format!("rootless mappings need {helper} (apt-get install uidmap): {e}"),
                )
            })?;
            if !out.status.success() {
                return Err(Error::field(
                    field,
                    format!(
                        "{helper}: {} (are the ids in /etc/sub{}id for this user?)",
                        String::from_utf8_lossy(&out.stderr).trim(),
                        if file == "gid_map" { "g" } else { "u" }
                    ),
                ));
            }
            continue;
        }
        let body: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let p = format!("/proc/{pid}/{file}");
        std::fs::write(&p, body).map_err(|e| Error::field(field, format!("write {p}: {e}")))?;
    }
    Ok(())
}

/// Whether the rootfs is idmapped by default: the config maps container
/// root (`linux.uidMappings` has containerID 0) and the rootfs belongs to a
/// host uid outside every mapped range, so without the idmap the container's
/// root would see it as the overflow uid and could not change it. A rootfs
/// with any top-level entry already owned by a mapped id (an image chowned,
/// wholly or in part, for this mapping) is left as it is: through an idmap
/// those entries would show as the overflow uid instead.
pub fn idmap_rootfs(spec: &Spec, rootfs: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(maps) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.uid_mappings().as_ref())
    else {
        return false;
    };
    if !maps.iter().any(|m| m.container_id() == 0) {
        return false;
    }
    let Ok(md) = std::fs::metadata(rootfs) else {
        return false;
    };
    let mapped = |owner: u32| {
        maps.iter().any(|m| {
            let start = u64::from(m.host_id());
            (start..start + u64::from(m.size())).contains(&u64::from(owner))
        })
    };
    if mapped(md.uid()) {
        return false;
    }
    // The top level only (bin, etc, dev, ...), bounded: start-up stays cheap.
    let entries = std::fs::read_dir(rootfs).into_iter().flatten().flatten();
    !entries
        .take(256)
        .any(|e| e.metadata().is_ok_and(|m| mapped(m.uid())))
}

/// The init's user namespace, as an fd (for MOUNT_ATTR_IDMAP).
fn open_userns(pid: Pid) -> Result<OwnedFd> {
    let p = format!("/proc/{pid}/ns/user");
    nix::fcntl::open(
        p.as_str(),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {p}"))
}

/// `linux.seccomp` as BPF, cached in `<root>/.cache/seccomp` (`dir` is the
/// container's state directory under the root).
fn seccomp_program(spec: &Spec, dir: &Path) -> Result<Option<Vec<u8>>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let cache = dir.parent().map(|r| r.join(".cache/seccomp"));
    crate::seccomp::program(s, cache.as_deref())
}

/// `create`: set up the container and leave its init blocked until `start`.
pub fn create(store: &Store, id: &str, opts: &CreateOpts) -> Result<i32> {
    precheck(id, opts)?;
    let bundle = Bundle::load_or_default(&opts.bundle, opts.default_terminal)?;
    crate::exeseal::ensure_sealed_for(&bundle.spec)?;
    warn_knobs(opts)?;
    create_from(store, id, opts, bundle, false).map(|(st, _)| st.pid)
}

/// The checks of `create` that come before the bundle is read.
fn precheck(id: &str, opts: &CreateOpts) -> Result<()> {
    if !util::valid_id(id) {
        return Err(Error::InvalidId(id.to_string()));
    }
    if opts.no_pivot {
        return Err(Error::Usage(
            "--no-pivot is refused: without pivot_root the host's filesystem stays reachable from the container".into(),
        ));
    }
    // An unknown test knob fails closed before anything else is read.
    crate::testknobs::active()?;
    Ok(())
}

/// After the bundle is read and the binary sealed where the container needs
/// it ([`crate::exeseal::ensure_sealed_for`], which may re-execute us: so
/// nothing is said or made before it).
fn warn_knobs(opts: &CreateOpts) -> Result<()> {
    // Test builds only: a layer switched off by STOCKADE_TEST_UNSAFE is said
    // out loud (testknobs.rs; always empty in a release binary).
    for k in crate::testknobs::active()? {
        if let Some(w) = &opts.on_warning {
            w(&format!(
                "{}={}: TEST-ONLY knob, this layer of the runtime is OFF",
                crate::testknobs::ENV,
                k.name()
            ));
        }
    }
    Ok(())
}

/// `create` from a loaded bundle. Returns the state it saved (`run` goes on
/// with it instead of reading it back). With `start_now` (`run`), the init
/// is told to start over the sync channel as soon as it is READY, and that
/// channel is returned: [`await_exec`] on it reports the execve.
fn create_from(
    store: &Store,
    id: &str,
    opts: &CreateOpts,
    bundle: Bundle,
    start_now: bool,
) -> Result<(ContainerState, Option<Channel>)> {
    // The policy gate, before anything is made on the host.
    let ctx = crate::gate::Context {
        id: id.to_string(),
        ignore: opts.policy_ignore.clone(),
    };
    let warnings = crate::gate::check_in(
        &bundle.spec,
        opts.policy.unwrap_or(crate::gate::DEFAULT),
        &ctx,
    )?;
    if let Some(w) = &opts.on_warning {
        warnings.iter().for_each(|l| w(l));
    }
    hooks::validate(bundle.spec.hooks().as_ref())?;
    let process = bundle
        .spec
        .process()
        .clone()
        .ok_or_else(|| Error::field("process", "missing"))?;
    let terminal = process.terminal() == Some(true);
    if terminal && opts.console_socket.is_none() {
        return Err(Error::Usage(
            "process.terminal is true: --console-socket is required".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(Error::Usage(
            "--console-socket given but process.terminal is false".into(),
        ));
    }
    let locked = store.create(id)?;
    let mut st = ContainerState {
        id: id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        pid: 0,
        pid_start: 0,
        created: util::rfc3339_now(),
        owner: String::new(),
        cgroup: Cgroup::default(),
        own_pid_ns: false,
        ready: false,
        spec: bundle.spec.clone(),
        policy: opts
            .policy
            .filter(|p| *p != crate::gate::DEFAULT)
            .map(|p| p.to_string()),
    };
    match create_inner(&locked, &mut st, &bundle, &process, opts, start_now) {
        Ok(chan) => Ok((st, chan)),
        Err(e) => match destroy(&st) {
            Ok(()) => {
                let _ = locked.remove();
                Err(e)
            }
            // The state stays, for `delete --force`.
            Err(left) => Err(Error::Init(format!("{e}; and cleaning up failed: {left}"))),
        },
    }
}

fn create_inner(
    locked: &Locked,
    st: &mut ContainerState,
    bundle: &Bundle,
    process: &Process,
    opts: &CreateOpts,
    start_now: bool,
) -> Result<Option<Channel>> {
    let spec = &bundle.spec;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::field("linux", "missing"))?;
    let nss = linux.namespaces().clone().unwrap_or_default();

    // 1. Cgroups: recorded in the state before they exist, so a crash
    //    anywhere after this point is cleaned up by `delete --force`.
    //    With the systemd driver, systemd makes the scope once the init's
    //    pid is known (step 5); it must be reachable before anything runs.
    let systemd = if opts.systemd_cgroup {
        let path = linux.cgroups_path().as_ref().map(|p| p.to_string_lossy());
        st.cgroup = Cgroup::plan_systemd(path.as_deref(), &st.id)?;
        if let Some(r) = linux.resources() {
            crate::cgroups::plan::plan(r, &st.cgroup.layout())?;
            crate::cgroups::systemd::resource_properties(r)?;
        }
        let user = st.cgroup.systemd.as_ref().is_some_and(|u| u.user);
        Some(crate::cgroups::systemd::Bus::connect(user)?)
    } else {
        st.cgroup = Cgroup::plan(linux.cgroups_path().as_deref(), &st.id)?;
        st.cgroup.created = st.cgroup.missing_dirs();
        None
    };
    locked.save(st)?;
    // `create` only makes the directories listed in `created` already, so
    // the state need not be saved again (each save replaces state.json by
    // rename, and ext4 starts writeback on a replacing rename: ~1 ms).
    if systemd.is_some() {
        // Made in step 5.
    } else if let Err(e) = st.cgroup.create() {
        // Rootless, like runc: where the caller cannot make cgroups (v1, or
        // a v2 tree not delegated to it) the container runs without its own,
        // unless the config asks for limits, which would then be lost.
        if !crate::cgroups::rootless() {
            return Err(e);
        }
        let _ = st.cgroup.destroy();
        if linux
            .resources()
            .as_ref()
            .is_some_and(crate::cgroups::has_limits)
        {
            return Err(Error::field(
                "linux.resources",
                format!(
                    "a rootless container cannot have limits here ({e});                      remove the limits, or use a cgroup v2 host that delegates a cgroup to this user"
                ),
            ));
        }
        st.cgroup = Cgroup::default();
        locked.save(st)?;
    }
    if let Some(r) = linux.resources().as_ref().filter(|_| systemd.is_none()) {
        if !st.cgroup.hier.is_empty() {
            st.cgroup.apply(r)?;
        }
    }

    // 2. Namespaces: the ones to join are opened now (errors name the field).
    let mut target = Target {
        join: Vec::new(),
        new: CloneFlags::empty(),
        close: vec![locked.lock_fd()],
        nondumpable: false,
    };
    let mut new_userns = false;
    let mut new_cgroupns = false;
    for (i, ns) in nss.iter().enumerate() {
        let f = ns_flag(ns.typ());
        match ns.path() {
            Some(p) => target
                .join
                .push((f, open_ns(p, &format!("linux.namespaces[{i}].path"))?)),
            None if f == CloneFlags::CLONE_NEWCGROUP => new_cgroupns = true,
            None => {
                if f == CloneFlags::CLONE_NEWUSER {
                    new_userns = true;
                }
                if f == CloneFlags::CLONE_NEWPID {
                    st.own_pid_ns = true;
                }
                target.new |= f;
            }
        }
    }

    // Landlock (see landlock.rs): on unless turned off; said so when the
    // kernel cannot.
    let mut landlock = !opts.no_landlock && !crate::landlock::disabled_by(spec);
    if landlock && crate::landlock::needs_mount(spec.process().as_ref()) {
        landlock = false;
        if let Some(w) = &opts.on_warning {
            w(crate::landlock::MOUNT_WARNING);
        }
    }
    if landlock && crate::landlock::supported_abi().is_none() {
        if let Some(w) = &opts.on_warning {
            w("landlock: not supported by this kernel; the container process is not confined to its root by Landlock");
        }
    }

    // 3. The console socket, the start socket (not for `run`, which starts
    //    the init over the sync channel) and the sync channel.
    let console = match &opts.console_socket {
        Some(p) => Some(connect_console(p)?),
        None => None,
    };
    let listener = match start_now {
        false => Some(bind_long(&start_sock(&locked.dir))?),
        true => None,
    };
    let (ours, theirs) = Channel::pair()?;
    let nlisten = listen_fds();
    let mut extra_env = Vec::new();
    if nlisten > 0 {
        extra_env.push(format!("LISTEN_FDS={nlisten}"));
        extra_env.push("LISTEN_PID=1".to_string());
    }
    let cfg = InitConfig {
        spec,
        process,
        bundle: &bundle.dir,
        rootfs: &bundle.rootfs,
        cgroup: &st.cgroup,
        new_userns,
        new_cgroupns,
        console: console.as_ref().map(|c| c.as_raw_fd()),
        start: listener.as_ref().map(|l| l.as_raw_fd()),
        extra_fds: nlisten + opts.preserve_fds.max(0),
        extra_env,
        landlock,
        seccomp_bpf: seccomp_program(spec, &locked.dir)?,
    };

    // 4. The init process.
    let pid = spawn::spawn(target, &ours, theirs, |chan| init::create_main(&cfg, chan))?;
    st.pid = pid.as_raw();
    st.pid_start = util::proc_start_time(st.pid).map(|s| s.0).unwrap_or(0);
    // Not saved until READY: if the runtime dies before that, the init
    // exits when the channel closes, or (blocked in accept after READY)
    // it is in the container's cgroups, whose members `delete --force`
    // kills without needing the pid.
    drop(listener);
    drop(console);

    // 5. Id maps, then let the init go on with its rootfs while we put it
    //    in its cgroups: the first write to a v1 cgroup.procs waits for an
    //    RCU grace period (several ms), which the init's mounts now
    //    overlap. The init waits for CGROUP before any step that needs the
    //    cgroups (init.rs). If it failed meanwhile, the send fails and the
    //    loop below reads its error.
    if new_userns {
        write_id_maps(pid, spec)?;
    }
    // With a user and a mount namespace, the rootfs goes with GO as a
    // detached tree opened here, on the host side (rootfs::detached_root),
    // idmapped when the container's root could not otherwise own it.
    let userns = if new_userns {
        Some(open_userns(pid)?)
    } else {
        None
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if let Some(t) = rootfs::idmapped_mount(spec, i, m, &bundle.dir, userns.as_ref())? {
            let mut msg = vec![rootfs::IDMAPPED_MOUNT];
            msg.extend_from_slice(&(i as u32).to_ne_bytes());
            init::send_fd(ours.raw(), t.as_raw_fd(), &msg)?;
        }
    }
    // Only with host privileges: open_tree(OPEN_TREE_CLONE) and idmaps need
    // CAP_SYS_ADMIN where the rootfs's mount lives, which a rootless runtime
    // lacks (its init then binds the rootfs itself, as before).
    let tree = if new_userns && crate::rootfs::has_mount_ns(spec) && !crate::cgroups::rootless() {
        let idmap = userns
            .as_ref()
            .filter(|_| idmap_rootfs(spec, &bundle.rootfs));
        match crate::rootfs::detached_root(&bundle.rootfs, idmap) {
            Ok(t) => Some(t),
            // A filesystem without idmapped mounts: the rootfs as it is,
            // said in a warning (ids outside the map show as 65534).
            Err(e) if idmap.is_some() => {
                if let Some(w) = &opts.on_warning {
                    w(&format!("{e}; the rootfs is used without an idmap"));
                }
                Some(crate::rootfs::detached_root(&bundle.rootfs, None)?)
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    // systemd driver: the scope, with the init in it, before the init
    // goes on (it binds the scope's cgroup into its mounts).
    if let Some(bus) = &systemd {
        st.cgroup
            .start_unit(bus, &st.id, st.pid, linux.resources().as_ref())?;
        locked.save(st)?;
    }
    match &tree {
        Some(t) => init::send_fd(ours.raw(), t.as_raw_fd(), &[tag::GO])?,
        None => ours.send(tag::GO, b"")?,
    }
    drop(tree);
    st.cgroup.add(st.pid)?;
    let _ = ours.send(tag::CGROUP, b"");
    // The exe seal's detached mount goes while the init makes the container.
    crate::exeseal::release_view();

    // 6. Serve the init's requests until it is ready.
    loop {
        match ours.recv()? {
            Some((tag::HOOKS, _)) => {
                // runtime-spec 1.3: these hooks are lifecycle steps 3-5,
                // after the environment is made (step 2): `created`.
                let state = st.hook_state(Status::Created);
                if let Some(h) = spec.hooks() {
                    hooks::run("prestart", h.prestart().as_ref(), &state)?;
                    hooks::run("createRuntime", h.create_runtime().as_ref(), &state)?;
                }
                ours.send(tag::HOOKS_DONE, state.as_bytes())?;
            }
            Some((tag::READY, _)) => break,
            Some((tag::ERROR, msg)) => {
                return Err(Error::Init(String::from_utf8_lossy(&msg).into_owned()))
            }
            Some((t, _)) => {
                return Err(Error::Init(format!(
                    "protocol error: unexpected {:?}",
                    t as char
                )))
            }
            None => return Err(Error::Init("container init exited during setup".into())),
        }
    }
    // `run`: start at once, and save the state while the init finishes.
    // A crash before the save leaves the state of step 1 (cgroups, no
    // pid): `delete --force` kills the container through its cgroups, as
    // for a `create` killed before READY. Observers see "creating" until
    // the save, then "running" (there is no start.sock).
    if start_now {
        ours.send(tag::START, st.hook_state(Status::Created).as_bytes())?;
    }
    st.ready = true;
    locked.save(st)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, st.pid)?;
    }
    Ok(start_now.then_some(ours))
}

/// Kill what a container made and remove its cgroups (not the state dir).
/// Every process is found through all its cgroups, its recorded pid and
/// the namespaces it created (reap.rs). An error says what is left; the
/// caller keeps the state then, so `delete --force` can be run again.
fn destroy(st: &ContainerState) -> Result<()> {
    let killed = crate::reap::kill_all(st);
    // Reap the init if it is our child (create failed or run).
    if st.pid > 0 {
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(st.pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
    }
    let removed = st.cgroup.destroy();
    rootfs::unmount_host_mounts(&st.spec, &st.rootfs);
    killed?;
    removed
}

fn alive(st: &ContainerState) -> bool {
    matches!(util::proc_start_time(st.pid), Some((s, false)) if s == st.pid_start)
}

/// Signal the init through a pidfd after checking its start time, so a
/// recycled pid is never signalled.
fn signal_init(st: &ContainerState, sig: Signal) -> Result<()> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, st.pid, 0) };
    let fd = nix::errno::Errno::result(fd).ctx(|| format!("pidfd_open {}", st.pid))? as i32;
    // SAFETY: we own the fd the kernel just returned.
    let fd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    if !alive(st) {
        return Err(Error::BadStatus {
            id: st.id.clone(),
            status: "stopped".into(),
            msg: "cannot signal".into(),
        });
    }
    // SAFETY: pidfd_send_signal with a valid pidfd, a signal number and no siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    nix::errno::Errno::result(rc).ctx(|| format!("signal {sig} to {}", st.pid))?;
    Ok(())
}

/// `start`: release the init blocked in `create`.
/// A failing poststart hook is an error, and the container is stopped
/// (runtime-spec 1.3, lifecycle step 9); `delete` then destroys it.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    start_loaded(&locked, &st)
}

/// `start` with the container's state already read (under `locked`).
fn start_loaded(locked: &Locked, st: &ContainerState) -> Result<()> {
    let id = st.id.as_str();
    let status = st.status_in(&locked.dir);
    if status != Status::Created {
        return Err(Error::BadStatus {
            id: id.into(),
            status: status.to_string(),
            msg: "cannot start: the container is not in the created state".into(),
        });
    }
    let sock = start_sock(&locked.dir);
    let mut conn = connect_long(&sock)
        .map_err(|e| Error::Init(format!("start: the container init is gone ({e})")))?;
    use std::io::Write;
    let msg = crate::sync::start_request(st.hook_state(Status::Created).as_bytes())?;
    conn.write_all(&msg).map_err(|e| Error::io(&sock, e))?;
    let r = await_exec(conn.as_raw_fd(), st);
    let _ = std::fs::remove_file(&sock);
    r?;
    poststart(st).inspect_err(|_| {
        let _ = signal_init(st, Signal::SIGKILL);
    })
}

/// After the start message: wait until the init's execve closes `fd` (its
/// start.sock connection or, in `run`, the sync channel; both O_CLOEXEC).
/// Anything it sends first is a seccomp notify fd, forwarded to
/// `linux.seccomp.listenerPath`, or an error ("E" and the message).
fn await_exec(fd: std::os::fd::RawFd, st: &ContainerState) -> Result<()> {
    let mut err = Vec::new();
    loop {
        let (data, notify) = init::recv_fd(fd)?;
        if let Some(n) = notify {
            forward_notify_fd(st, n)?;
        }
        if data.is_empty() {
            break;
        }
        if data.first() == Some(&b'E') || !err.is_empty() {
            err.extend_from_slice(&data);
        }
    }
    if !err.is_empty() {
        let msg = String::from_utf8_lossy(&err[1..]).into_owned();
        return Err(Error::Init(msg));
    }
    Ok(())
}

/// poststart hooks, once the container process runs. runtime-spec 1.3: the
/// first failure is an error (the caller stops the container).
fn poststart(st: &ContainerState) -> Result<()> {
    if let Some(h) = st.spec.hooks() {
        hooks::run(
            "poststart",
            h.poststart().as_ref(),
            &st.hook_state(Status::Running),
        )?;
    }
    Ok(())
}

/// Give a seccomp notify fd to `linux.seccomp.listenerPath`, with the
/// container process state (runtime-spec "seccomp user notification").
fn forward_notify_fd(st: &ContainerState, fd: OwnedFd) -> Result<()> {
    let seccomp = st.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let Some(path) = seccomp.and_then(|s| s.listener_path().clone()) else {
        return Err(Error::field(
            "linux.seccomp.listenerPath",
            "SCMP_ACT_NOTIFY needs a listenerPath",
        ));
    };
    let meta = seccomp
        .and_then(|s| s.listener_metadata().clone())
        .unwrap_or_default();
    let state = serde_json::json!({
        "ociVersion": st.spec.version(),
        "fds": ["seccompFd"],
        "pid": st.pid,
        "metadata": meta,
        "state": serde_json::from_str::<serde_json::Value>(&st.hook_state(Status::Running)).unwrap_or_default(),
    });
    let s = UnixStream::connect(&path).map_err(|e| {
        Error::field(
            "linux.seccomp.listenerPath",
            format!("{}: {e}", path.display()),
        )
    })?;
    init::send_fd(s.as_raw_fd(), fd.as_raw_fd(), state.to_string().as_bytes())
}

/// `state`: the runc-compatible JSON.
pub fn state(store: &Store, id: &str) -> Result<serde_json::Value> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    Ok(st.to_json(st.status_in(&locked.dir)))
}

/// `list`: every container's state.
pub fn list(store: &Store) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for id in store.list()? {
        if let Ok(v) = state(store, &id) {
            out.push(v);
        }
    }
    Ok(out)
}

/// `kill`: send a signal to the init, or with `all` to every process.
pub fn kill(store: &Store, id: &str, sig: Signal, all: bool) -> Result<()> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    let status = st.status_in(&locked.dir);
    if matches!(status, Status::Stopped | Status::Creating) && !all {
        return Err(Error::BadStatus {
            id: id.into(),
            status: status.to_string(),
            msg: "container not running".into(),
        });
    }
    if all {
        let frozen = st.cgroup.is_frozen();
        for p in st.cgroup.pids() {
            let _ = nix::sys::signal::kill(Pid::from_raw(p), sig);
        }
        if frozen && sig == Signal::SIGKILL {
            st.cgroup.freeze(false)?;
        }
        return Ok(());
    }
    signal_init(&st, sig)?;
    if status == Status::Paused && sig == Signal::SIGKILL {
        st.cgroup.freeze(false)?;
    }
    Ok(())
}

/// `delete`: remove a stopped (or created) container; `force` kills first.
/// A failing poststop hook is a warning to `on_warning` (the remaining
/// hooks still run, and the container is deleted).
pub fn delete(
    store: &Store,
    id: &str,
    force: bool,
    on_warning: Option<&WarningSink>,
) -> Result<()> {
    delete_known(store, id, force, None, on_warning)
}

/// `delete`; `known` is the container's state when the caller holds it
/// already (`run`, which made it), so it is not read back from disk.
fn delete_known(
    store: &Store,
    id: &str,
    force: bool,
    known: Option<ContainerState>,
    on_warning: Option<&WarningSink>,
) -> Result<()> {
    let locked = match store.open(id) {
        // Like runc: --force on a container that is already gone succeeds,
        // so engines can call it unconditionally after a failed create.
        Err(Error::NotFound(_)) if force => return Ok(()),
        other => other?,
    };
    let st = match known.map(Ok).unwrap_or_else(|| locked.load()) {
        Ok(st) => st,
        // A create killed before its first state write left only the dir.
        Err(Error::NotFound(_)) => return locked.remove(),
        // An unreadable state cannot tell us what to clean; --force still
        // removes the entry so the id can be reused.
        Err(_) if force => return locked.remove(),
        Err(e) => return Err(e),
    };
    let status = st.status_in(&locked.dir);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(Error::BadStatus {
            id: id.into(),
            status: status.to_string(),
            msg: "cannot delete a running container; stop it first or use --force".into(),
        });
    }
    destroy(&st)?;
    if st.ready {
        if let Some(h) = st.spec.hooks() {
            // runtime-spec: a failing poststop hook is a warning; the
            // remaining hooks run and the delete succeeds.
            let failed = hooks::run_all(
                "poststop",
                h.poststop().as_ref(),
                &st.hook_state(Status::Stopped),
            );
            if let Some(w) = on_warning {
                failed.iter().for_each(|e| w(&e.to_string()));
            }
        }
    }
    locked.remove()
}

/// `pause` / `resume`.
pub fn pause(store: &Store, id: &str, on: bool) -> Result<()> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    let status = st.status_in(&locked.dir);
    match (on, status) {
        (true, Status::Running) | (false, Status::Paused) => st.cgroup.freeze(on),
        _ => Err(Error::BadStatus {
            id: id.into(),
            status: status.to_string(),
            msg: if on {
                "cannot pause: not running".into()
            } else {
                "cannot resume: not paused".into()
            },
        }),
    }
}

/// `ps`: pids of the container's processes.
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    Ok(st.cgroup.pids())
}

/// `events --stats`: one stats document.
pub fn stats(store: &Store, id: &str) -> Result<serde_json::Value> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    let status = st.status_in(&locked.dir);
    if status == Status::Stopped {
        return Err(Error::BadStatus {
            id: id.into(),
            status: status.to_string(),
            msg: "no stats for a stopped container".into(),
        });
    }
    Ok(serde_json::json!({"type": "stats", "id": id, "data": st.cgroup.stats()}))
}

/// Options of `exec`.
pub struct ExecOpts {
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
    pub preserve_fds: i32,
    /// Turn off Landlock for this process (runtime.toml `landlock = false`).
    pub no_landlock: bool,
    /// The policy gate's level for the new process (see
    /// [`crate::gate::check_exec`]); `None` is [`crate::gate::DEFAULT`].
    pub policy: Option<crate::gate::Policy>,
    /// Receives the gate's warnings.
    pub on_warning: Option<WarningSink>,
    /// Rules the gate does not judge (runtime.toml `ignore`).
    pub policy_ignore: Vec<String>,
}

/// `exec`: run a new process in a running container. Returns its exit code
/// (or 0 with `detach`).
pub fn exec(store: &Store, id: &str, opts: ExecOpts) -> Result<i32> {
    let locked = store.open(id)?;
    let st = locked.load()?;
    let status = st.status_in(&locked.dir);
    if !matches!(status, Status::Running | Status::Created) {
        return Err(Error::BadStatus {
            id: id.into(),
            status: status.to_string(),
            msg: "cannot exec: the container is not running".into(),
        });
    }
    // CVE-2019-5736: the joining process runs from a sealed view of the
    // binary unless no process of the container could write it (the
    // container's user and pid namespaces, exeseal.rs). Before anything is
    // said or made: this may re-execute us (the state lock's fd is
    // close-on-exec, so the lock goes with it and is taken again).
    crate::exeseal::ensure_sealed_for(&st.spec)?;
    // The policy gate, as at create: a process that exec would add with
    // more privilege than the policy allows (a capability, uid 0, no
    // no_new_privs, an unconfined profile) is refused before anything runs.
    // An exec that names no policy is judged under the one the container was
    // created with; a state file whose policy cannot be read fails closed.
    let policy = match (opts.policy.unwrap_or(crate::gate::DEFAULT), &st.policy) {
        (crate::gate::DEFAULT, Some(p)) => p.parse().map_err(|e| {
            Error::Usage(format!(
                "{}: policy: {e}",
                locked.dir.join("state.json").display()
            ))
        })?,
        (p, _) => p,
    };
    let ctx = crate::gate::Context {
        id: id.to_string(),
        ignore: opts.policy_ignore.clone(),
    };
    let warnings = crate::gate::check_exec_in(&st.spec, &opts.process, policy, &ctx)?;
    if let Some(w) = &opts.on_warning {
        warnings.iter().for_each(|l| w(l));
    }
    // As at create (bundle.rs): a profile or label that cannot be applied
    // here is refused, not silently dropped (lsm.rs).
    crate::lsm::check_process(&opts.process)?;
    let terminal = opts.process.terminal() == Some(true);
    if terminal && opts.console_socket.is_none() {
        return Err(Error::Usage("a terminal needs --console-socket".into()));
    }
    // Join every namespace of the init that differs from ours.
    let mut target = Target {
        join: Vec::new(),
        new: CloneFlags::empty(),
        close: vec![locked.lock_fd()],
        nondumpable: true,
    };
    let nss = st
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in &nss {
        let name = ns_proc_name(ns.typ());
        let theirs = PathBuf::from(format!("/proc/{}/ns/{name}", st.pid));
        let same = std::fs::metadata(&theirs)
            .ok()
            .zip(std::fs::metadata(format!("/proc/self/ns/{name}")).ok())
            .is_some_and(|(a, b)| {
                std::os::unix::fs::MetadataExt::ino(&a) == std::os::unix::fs::MetadataExt::ino(&b)
            });
        if !same {
            target.join.push((
                ns_flag(ns.typ()),
                open_ns(&theirs, &format!("namespace {name}"))?,
            ));
        }
    }
    if !alive(&st) {
        return Err(Error::BadStatus {
            id: id.into(),
            status: "stopped".into(),
            msg: "cannot exec".into(),
        });
    }
    let console = match &opts.console_socket {
        Some(p) => Some(connect_console(p)?),
        None => None,
    };
    let mut landlock = !opts.no_landlock && !crate::landlock::disabled_by(&st.spec);
    if landlock && crate::landlock::needs_mount(Some(&opts.process)) {
        landlock = false;
        if let Some(w) = &opts.on_warning {
            w(crate::landlock::MOUNT_WARNING);
        }
    }
    let (ours, theirs) = Channel::pair()?;
    let cfg = InitConfig {
        spec: &st.spec,
        process: &opts.process,
        bundle: &st.bundle,
        rootfs: &st.rootfs,
        cgroup: &st.cgroup,
        new_userns: false,
        new_cgroupns: false,
        console: console.as_ref().map(|c| c.as_raw_fd()),
        start: None,
        extra_fds: opts.preserve_fds.max(0),
        extra_env: Vec::new(),
        landlock,
        seccomp_bpf: seccomp_program(&st.spec, &locked.dir)?,
    };
    let pid = spawn::spawn(target, &ours, theirs, |chan| init::exec_main(&cfg, chan))?;
    drop(console);
    let r = (|| {
        st.cgroup.add(pid.as_raw())?;
        ours.send(tag::GO, b"")?;
        // The exe seal's detached mount goes while the process joins.
        crate::exeseal::release_view();
        match ours.recv()? {
            None => Ok(()),
            Some((tag::ERROR, m)) => Err(Error::Init(String::from_utf8_lossy(&m).into_owned())),
            Some((t, _)) => Err(Error::Init(format!(
                "protocol error: unexpected {:?}",
                t as char
            ))),
        }
    })();
    if let Err(e) = r {
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        return Err(e);
    }
    drop(locked);
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid.as_raw())?;
    }
    if opts.detach {
        return Ok(0);
    }
    Ok(wait_forwarding(pid))
}

/// Wait for a child, forwarding the usual termination signals to it.
/// Returns its exit code (128 + signal when killed).
pub fn wait_forwarding(pid: Pid) -> i32 {
    use nix::sys::signal::{SigSet, SigmaskHow};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, s, _)) => return 128 + s as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        // SAFETY: sigtimedwait reads the set and timeout we pass; info may be null.
        let sig = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) };
        if sig > 0 && sig != libc::SIGCHLD {
            // SAFETY: kill with a pid and signal number.
            unsafe { libc::kill(pid.as_raw(), sig) };
        }
    }
}

/// `run`: create + start, then (unless detached) wait and delete.
pub fn run(store: &Store, id: &str, opts: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    let mut opts = opts.clone();
    // No config.json: the hardened default, on a terminal when ours is one.
    if !opts.bundle.join("config.json").exists() {
        // SAFETY: isatty on fd 0 only reads its state.
        let tty = unsafe { libc::isatty(0) } == 1;
        opts.default_terminal = Some(tty && !detach && opts.console_socket.is_none());
    }
    // The bundle is read once, here, for the terminal question and for create.
    precheck(id, &opts)?;
    let bundle = Bundle::load_or_default(&opts.bundle, opts.default_terminal)?;
    crate::exeseal::ensure_sealed_for(&bundle.spec)?;
    warn_knobs(&opts)?;
    // A foreground `run` of a terminal process without --console-socket:
    // like runc, receive the pty ourselves and copy between it and our stdio.
    let wants_tty = !detach
        && opts.console_socket.is_none()
        && bundle.spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let mut console = None;
    if wants_tty {
        let path = store
            .root()
            .join(format!(".console-{id}-{}.sock", std::process::id()));
        let listener = bind_long(&path)?;
        opts.console_socket = Some(path.clone());
        console = Some((listener, path));
    }
    let created = create_from(store, id, &opts, bundle, true);
    let (st, chan, master) = match console {
        Some((listener, path)) => {
            let _ = std::fs::remove_file(&path);
            let (st, chan) = created?;
            listener.set_nonblocking(true).ok();
            let got = listener
                .accept()
                .map_err(|e| Error::io(&path, e))
                .and_then(|(c, _)| init::recv_fd(c.as_raw_fd()));
            match got {
                Ok((_, Some(fd))) => (st, chan, Some(fd)),
                Ok((_, None)) => {
                    let _ = delete(store, id, true, opts.on_warning.as_ref());
                    return Err(Error::Init("no pty received from the container".into()));
                }
                Err(e) => {
                    let _ = delete(store, id, true, opts.on_warning.as_ref());
                    return Err(e);
                }
            }
        }
        None => {
            let (st, chan) = created?;
            (st, chan, None)
        }
    };
    // The init was told to start when it reported READY (create_from); wait
    // for its execve, then poststart. delete goes on with the state create
    // made.
    let started = match &chan {
        Some(c) => await_exec(c.raw(), &st).and_then(|()| poststart(&st)),
        None => Err(Error::Init("run: no sync channel".into())),
    };
    drop(chan);
    if let Err(e) = started {
        let _ = delete(store, id, true, opts.on_warning.as_ref());
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let pid = st.pid;
    let code = match master {
        Some(m) => crate::tty::proxy_while(m, || wait_forwarding(Pid::from_raw(pid))),
        None => wait_forwarding(Pid::from_raw(pid)),
    };
    if !keep {
        delete_known(store, id, true, Some(st), opts.on_warning.as_ref())?;
    }
    Ok(code)
}
