//! `stockade watch`: eBPF detection of container-escape behaviour in any container, attributed
//! to its container, with enforcement tiered by what the kernel allows.
//!
//! Pipeline: kernel programs (`bpf/`) filter to container tasks and pre-classify ->
//! ring buffer (batched wake-ups) -> [`event::RawEvent`] -> [`attrib`] (container, runtime, pod)
//! -> [`behaviour::classify`] (rule id from the shared catalogue) -> [`output`] and [`metrics`].
//! With `--enforce`, [`enforce`] attaches cgroup BPF (and BPF-LSM where allowed) to each
//! container and arms the reactive kill.

pub mod attrib;
pub mod behaviour;
pub mod cli;
pub mod config;
pub mod enforce;
pub mod event;
pub mod metrics;
pub mod output;
pub mod probe;
pub mod proctree;
pub mod sensor;

#[allow(clippy::all, missing_docs, unsafe_op_in_unsafe_fn)]
pub mod bpf {
    include!(concat!(env!("OUT_DIR"), "/sensor.skel.rs"));
}
#[allow(clippy::all, missing_docs, unsafe_op_in_unsafe_fn)]
pub mod bpf_enforce {
    include!(concat!(env!("OUT_DIR"), "/enforce.skel.rs"));
}
#[allow(clippy::all, missing_docs, unsafe_op_in_unsafe_fn)]
pub mod bpf_lsm {
    include!(concat!(env!("OUT_DIR"), "/lsm.skel.rs"));
}

mod run;
pub use run::run;
