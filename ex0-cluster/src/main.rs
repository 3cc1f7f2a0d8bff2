//! `cargo run -p ex0-cluster -- devrel 4`: a local cluster to join by hand.

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex0_cluster::ClusterApp>()
}
