//! cgroup v2 device rules: an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` built from `linux.resources.devices`.
//!
//! cgroup v2 has no devices.allow/deny files; the kernel asks an attached
//! program for every device open/mknod. The program reads the request
//! (`struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
//! `access_type = access << 16 | type`) and checks the rules from the last to
//! the first: the last matching rule wins, like writing the rules in order
//! to v1's devices.allow/deny. No match means allow, which is what a new v1
//! cgroup does (rule lists normally start with a deny-all).

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0xf),
        off,
        imm,
    }
}

const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JNE_K: u8 = 0x55;
const JMP_JNE_X: u8 = 0x5d;
const EXIT: u8 = 0x95;

/// A rule in the form the program checks.
struct Rule {
    typ: Option<u32>, // 1 block, 2 char, None = any
    major: Option<u32>,
    minor: Option<u32>,
    access: u32, // bits: 1 mknod, 2 read, 4 write
    allow: bool,
}

fn rule(r: &LinuxDeviceCgroup) -> Rule {
    let typ = match r.typ() {
        Some(LinuxDeviceType::B) => Some(1),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(2),
        _ => None,
    };
    let access = r
        .access()
        .as_deref()
        .unwrap_or("rwm")
        .chars()
        .fold(0, |a, c| {
            a | match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => 0,
            }
        });
    Rule {
        typ,
        major: r.major().filter(|m| *m >= 0).map(|m| m as u32),
        minor: r.minor().filter(|m| *m >= 0).map(|m| m as u32),
        access,
        allow: r.allow(),
    }
}

/// Build the program for `rules` followed by the default allowed devices.
fn program(
    rules: &[LinuxDeviceCgroup],
    defaults: &[(u32, Option<u32>, Option<u32>, u32)],
) -> Vec<Insn> {
    let mut all: Vec<Rule> = rules.iter().map(rule).collect();
    for (t, ma, mi, acc) in defaults {
        all.push(Rule {
            typ: Some(*t),
            major: *ma,
            minor: *mi,
            access: *acc,
            allow: true,
        });
    }
    // r2 = type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in all.iter().rev() {
        // Checks that jump to the next rule; their offsets are fixed below.
        let mut block: Vec<Insn> = Vec::new();
        let mut jumps: Vec<usize> = Vec::new();
        if let Some(t) = r.typ {
            jumps.push(block.len());
            block.push(insn(JMP_JNE_K, 2, 0, 0, t as i32));
        }
        if r.access & 7 != 7 {
            // The requested access must be a subset of the rule's.
            block.push(insn(ALU32_MOV_X, 6, 3, 0, 0));
            block.push(insn(ALU32_AND_K, 6, 0, 0, r.access as i32));
            jumps.push(block.len());
            block.push(insn(JMP_JNE_X, 6, 3, 0, 0));
        }
        if let Some(m) = r.major {
            jumps.push(block.len());
            block.push(insn(JMP_JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            jumps.push(block.len());
            block.push(insn(JMP_JNE_K, 5, 0, 0, m as i32));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, r.allow as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let end = block.len();
        let matches_all = jumps.is_empty();
        for j in jumps {
            block[j].off = (end - j - 1) as i16;
        }
        p.extend(block);
        if matches_all {
            // Earlier rules can never be reached (the verifier refuses
            // unreachable code).
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// Devices every container may use (runc's allowed list), as
/// (type, major, minor, access).
pub const DEFAULT_ALLOWED: &[(u32, Option<u32>, Option<u32>, u32)] = &[
    (2, None, None, 1),
    (1, None, None, 1),
    (2, Some(1), Some(3), 7),
    (2, Some(1), Some(5), 7),
    (2, Some(1), Some(7), 7),
    (2, Some(1), Some(8), 7),
    (2, Some(1), Some(9), 7),
    (2, Some(5), Some(0), 7),
    (2, Some(5), Some(1), 7),
    (2, Some(5), Some(2), 7),
    (2, Some(136), None, 7),
];

fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> nix::Result<i64> {
    // SAFETY: bpf(2) reads (and for some commands writes) `size` bytes of
    // the zero-initialised attribute buffer we own.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    nix::errno::Errno::result(rc)
}

/// Load the program and attach it to the cgroup v2 directory `dir`.
pub fn attach(
    dir: &Path,
    rules: &[LinuxDeviceCgroup],
    defaults: &[(u32, Option<u32>, Option<u32>, u32)],
) -> Result<()> {
    let insns = program(rules, defaults);
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 65536];
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[24..28].copy_from_slice(&1u32.to_ne_bytes());
    attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
    attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
    attr[68..72].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    let fd = bpf(BPF_PROG_LOAD, &mut attr).map_err(|e| {
        let msg = String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)])
            .into_owned();
        Error::field(
            "linux.resources.devices",
            format!("load eBPF device program: {e} {msg}"),
        )
    })?;
    // SAFETY: BPF_PROG_LOAD returned a new fd that we now own.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cg = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(cg.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    attr[12..16].copy_from_slice(&BPF_F_ALLOW_MULTI.to_ne_bytes());
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| {
        Error::field(
            "linux.resources.devices",
            format!("attach eBPF device program to {}: {e}", dir.display()),
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn deny_all_allow_null() -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}
        ]))
        .unwrap()
    }

    #[test]
    fn program_shape() {
        let p = program(&deny_all_allow_null(), &[]);
        // 6 loads, rule "c 1:3 rw" (type, access x3, major, minor, mov, exit),
        // rule "a rwm" (mov, exit), which ends the program.
        assert_eq!(p.len(), 6 + 8 + 2);
    }

    /// Needs root and a cgroup2 mount; skipped otherwise.
    #[test]
    fn program_enforces_on_a_real_cgroup() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let base = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .iter()
            .map(Path::new)
            .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists());
        let Some(base) = base else { return };
        let dir = base.join(format!("stockade-devtest-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let r = attach(&dir, &deny_all_allow_null(), &[]);
        let procs = dir.join("cgroup.procs");
        let run = |file: &str| {
            let procs = procs.clone();
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c").arg(format!(
                "head -c1 {file} >/dev/null 2>&1 && echo ok || echo denied"
            ));
            // SAFETY: only writes to a file between fork and exec.
            unsafe {
                c.pre_exec(move || std::fs::write(&procs, std::process::id().to_string()));
            }
            String::from_utf8(c.output().unwrap().stdout).unwrap()
        };
        let (zero, null) = (run("/dev/zero"), run("/dev/null"));
        let _ = std::fs::remove_dir(&dir);
        r.unwrap();
        assert_eq!(zero.trim(), "denied");
        // /dev/null is allowed, but the shell's own stdout redirection to it
        // also goes through the program: "ok" proves both.
        assert_eq!(null.trim(), "ok");
    }
}
