//! What people run: the command line of every exercise's binary ([`cli`]: `console`, `start`,
//! `admin`, `devrel` …), the node's console ([`console`]), devrel, a cluster of nodes on one
//! machine (`devrel`), where they all find the cluster's cookie (`cookie`), and the signals that stop them
//! (`signals`).

pub mod cli;
mod config_file;
pub mod console;
mod cookie;
mod devrel;
pub mod signals;
