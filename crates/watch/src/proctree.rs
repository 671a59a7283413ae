//! Process lineage: pid -> (comm, exe, parent), learnt from exec events and /proc.

use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct Proc {
    pub pid: u32,
    pub comm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    #[serde(skip)]
    pub ppid: u32,
}

#[derive(Default)]
pub struct ProcTree {
    procs: HashMap<u32, Proc>,
}

fn from_proc(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let ppid = stat[close + 2..].split(' ').nth(1)?.parse().ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    Some(Proc {
        pid,
        comm,
        exe,
        ppid,
    })
}

impl ProcTree {
    pub fn exec(&mut self, pid: u32, ppid: u32, comm: &str, exe: &str) {
        if self.procs.len() > 65536 {
            self.procs.clear();
        }
        self.procs.insert(
            pid,
            Proc {
                pid,
                comm: comm.to_string(),
                exe: Some(exe.to_string()),
                ppid,
            },
        );
    }

    fn get(&mut self, pid: u32) -> Option<Proc> {
        if let Some(p) = self.procs.get(&pid) {
            return Some(p.clone());
        }
        let p = from_proc(pid)?;
        self.procs.insert(pid, p.clone());
        Some(p)
    }

    /// The exe of `pid` if known, and its ancestors (nearest first, at most `depth`).
    pub fn lineage(&mut self, pid: u32, ppid: u32, depth: usize) -> (Option<String>, Vec<Proc>) {
        let exe = self.get(pid).and_then(|p| p.exe);
        let mut chain = Vec::new();
        let mut next = ppid;
        while next > 1 && chain.len() < depth {
            match self.get(next) {
                Some(p) => {
                    next = p.ppid;
                    chain.push(p);
                }
                None => break,
            }
        }
        (exe, chain)
    }
}
