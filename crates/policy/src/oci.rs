//! OCI runtime config.json: its normalized view, for `stockade audit` and the runtime's gate.
