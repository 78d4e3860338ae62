//! Socket teardown on a low-priority thread. Closing a TCP socket (deregistering it, sending the
//! FIN, the kernel's state changes) costs more than the will it triggers; when thousands of clients
//! drop at once, doing it inline delays every will behind it. Connection tasks hand their socket
//! here instead, and a `nice 10` thread closes them when the workers have nothing better to do.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tracing::warn;

static CLOSER: OnceLock<mpsc::Sender<Arc<TcpStream>>> = OnceLock::new();

/// Closes `socket` soon, on the closer thread (inline if that thread cannot be started).
pub fn bury(socket: Arc<TcpStream>) {
    let tx = CLOSER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Arc<TcpStream>>();
        let started = std::thread::Builder::new().name("lwt-closer".into()).spawn(move || {
            lower_priority();
            // Dropping the last reference deregisters the socket from its runtime and closes it.
            for socket in rx {
                drop(socket);
            }
        });
        if let Err(e) = started {
            warn!("cannot start the closer thread ({e}): sockets close inline");
        }
        tx
    });
    // If the thread is gone, the socket comes back in the error and closes here.
    let _ = tx.send(socket);
}

/// The closer's nice value: low enough that wills go first in a storm (with 10, the kernel gives it
/// about a tenth of what a worker gets when both want the CPU), high enough that a broker-initiated
/// close still reaches its client promptly on a busy machine.
const NICE: libc::c_int = 10;

/// Puts the calling thread behind the workers for a CPU (Linux: nice is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory-safety preconditions; `0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICE);
    }
}
