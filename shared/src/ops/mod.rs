//! What people run: the command line of every exercise's binary ([`cli`]: `console`, `start`,
//! `admin`, `devrel` …), the node's console ([`console`]), and devrel, a cluster of nodes on
//! one machine (`devrel`).

pub mod cli;
pub mod console;
mod devrel;
