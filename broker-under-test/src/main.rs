//! `lwt-broker`: run the reference broker as a process (see [`lwt_broker::cli`]).

/// jemalloc, not glibc's malloc: connection churn fragments glibc's heap, so RSS crept up for
/// the whole of a 30-minute soak (`scenarios/soak.yaml`); with jemalloc it levels off.
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    lwt_broker::cli::main_from(std::env::args_os())
}
