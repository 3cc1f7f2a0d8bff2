//! `cargo run -p ex3-coordinator`: a node of the replicated stream database.

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex3_coordinator::DbApp>()
}
