//! `lwt-broker`: run the reference broker as a process (see [`lwt_broker::cli`]).

fn main() -> std::process::ExitCode {
    lwt_broker::cli::main_from(std::env::args_os())
}
