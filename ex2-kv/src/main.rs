//! `cargo run -p ex2-kv`: a node with a console for the key/value application.

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex2_kv::KvApp>()
}
