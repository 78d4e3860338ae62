//! The reference broker with the system allocator instead of jemalloc, for heap profilers:
//! heaptrack intercepts `malloc`/`free`, and the `lwt-broker` binary's jemalloc bypasses them, so
//! a profile of it shows nothing of the broker's own allocations. Same command line as
//! `lwt-broker`; `BENCHMARKS.md` (issue 13) shows how it was used to find where an idle
//! connection's bytes go.

fn main() -> std::process::ExitCode {
    lwt_broker::cli::main_from(std::env::args_os())
}
