//! `cargo run -p ex1-ping`: a node with a console for the ping application.

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex1_ping::PingApp>()
}
