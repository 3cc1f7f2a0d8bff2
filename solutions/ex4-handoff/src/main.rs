//! `cargo run -p ex4-handoff`: a node of the stream database whose vnodes can hand off.

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex4_handoff::HandoffApp>()
}
