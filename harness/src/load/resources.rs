//! The broker's resources during a run, read from `/proc` when it is a process of its own: RSS
//! (sampled every 100 ms for the peak) and CPU time.

use super::summary::Resources;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU time of `pid`, ms.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf is always safe to call.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((ut + st) * 1000.0 / hz)
}

/// Samples one process from [`Sampler::start`] to [`Sampler::finish`].
pub(super) struct Sampler {
    pid: u32,
    start: Instant,
    cpu0: f64,
    peak: Arc<AtomicU64>,
    rss0: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling `pid`.
    pub(super) fn start(pid: u32) -> Sampler {
        let rss0 = rss_kib(pid).unwrap_or(0);
        let peak = Arc::new(AtomicU64::new(rss0));
        let p2 = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(r) = rss_kib(pid) {
                    p2.fetch_max(r, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Sampler { pid, start: Instant::now(), cpu0: cpu_ms(pid).unwrap_or(0.0), peak, rss0, task }
    }
    /// Stops sampling; `shared` says the process is this one (embedded broker).
    pub(super) fn finish(self, shared: bool, cpu_storm_ms: f64) -> Resources {
        self.task.abort();
        let end = rss_kib(self.pid).unwrap_or(0);
        let wall = self.start.elapsed().as_secs_f64() * 1000.0;
        let cpu = cpu_ms(self.pid).unwrap_or(self.cpu0) - self.cpu0;
        Resources {
            pid: self.pid,
            shared_with_harness: shared,
            rss_start_kib: self.rss0,
            rss_peak_kib: self.peak.load(Ordering::Relaxed).max(end),
            rss_end_kib: end,
            cpu_percent: if wall > 0.0 { cpu / wall * 100.0 } else { 0.0 },
            cpu_storm_ms,
        }
    }
}
