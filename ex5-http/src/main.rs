//! `cargo run -p ex5-http`: a node of the stream database with its HTTP API (port 8080 on
//! dev1, 8081 on dev2, …).

fn main() -> std::process::ExitCode {
    ringcore::cli::main::<ex5_http::HttpApp>()
}
