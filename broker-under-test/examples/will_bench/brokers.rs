//! The two brokers as child processes: spawning lwt-broker and mosquitto on loopback.
use super::*;

// ------------------------------------------------------------------------------------------ brokers

/// Which broker a phase measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Lwt,
    Mosquitto,
}

impl Kind {
    /// The broker's name in the table and the messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Lwt => "lwt-broker",
            Kind::Mosquitto => "mosquitto",
        }
    }
}

/// A broker process this bench started; killed (by its own pid) on drop.
pub(crate) struct BrokerProc {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) tmpdir: Option<PathBuf>,
}

impl BrokerProc {
    /// The process id, for reading its RSS.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.tmpdir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The broker binaries to start (mosquitto `None`: compared against nothing).
#[derive(Clone)]
pub(crate) struct Binaries {
    pub(crate) lwt: PathBuf,
    pub(crate) mosquitto: Option<PathBuf>,
}

/// Starts a fresh process of `kind` on a free loopback port.
pub(crate) fn spawn(kind: Kind, bins: &Binaries) -> Res<BrokerProc> {
    match kind {
        Kind::Lwt => spawn_lwt(&bins.lwt),
        Kind::Mosquitto => spawn_mosquitto(bins.mosquitto.as_deref().expect("mosquitto enabled")),
    }
}

/// `lwt-broker --bind 127.0.0.1:0`, address taken from its `listening on <addr>` line.
/// Its log (stderr, default filter) goes to /dev/null, like mosquitto's.
fn spawn_lwt(bin: &Path) -> Res<BrokerProc> {
    let mut child = Command::new(bin)
        .args(["--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            let _ = child.kill();
            let _ = child.wait();
            return err(format!("{} exited before printing `listening on <addr>`", bin.display()));
        }
        if let Some(a) = line.trim().strip_prefix("listening on ") {
            break a.parse::<SocketAddr>()?;
        }
    };
    // Keep draining stdout so the broker can never block on a full pipe.
    thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = lines.read_to_end(&mut sink);
    });
    Ok(BrokerProc { child, addr, tmpdir: None })
}

/// A loopback port that was free a moment ago, for mosquitto's config.
fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts mosquitto with a generated minimal config in a temporary directory.
fn spawn_mosquitto(bin: &Path) -> Res<BrokerProc> {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "will_bench-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    // Minimal and comparable to lwt-broker's defaults: no persistence, TCP_NODELAY like lwt-broker
    // sets on every accepted socket, same queue limit, log to stderr (which goes to /dev/null).
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\n\
             allow_anonymous true\n\
             max_keepalive 65535\n\
             persistence false\n\
             set_tcp_nodelay true\n\
             max_queued_messages 10000\n\
             log_dest stderr\n"
        ),
    )?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut b = BrokerProc { child, addr, tmpdir: Some(dir) };
    let t0 = Instant::now();
    loop {
        if let Some(status) = b.child.try_wait()? {
            return err(format!("mosquitto exited at start ({status}); config {}", conf.display()));
        }
        if TcpStream::connect(addr).is_ok() {
            return Ok(b);
        }
        if t0.elapsed() > Duration::from_secs(5) {
            return err("mosquitto did not listen within 5 s");
        }
        thread::sleep(Duration::from_millis(10));
    }
}
