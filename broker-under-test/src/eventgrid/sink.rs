//! Where the emulator's CloudEvents go: a JSON Lines file and/or an `http://` webhook, written by a
//! thread of its own behind a channel, so the core only ever hands a record over and never waits
//! for a disk or a network. Shared by the client life-cycle events ([`super::lifecycle`]) and the
//! routed MQTT messages ([`super::routing`]): each gives the sink its record type and the function
//! that renders one record as one JSON object; the sink does the rest (append, flush when idle,
//! forward to the webhook thread, log the first failure once).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tracing::warn;

/// How long dropping an [`EventSink`] waits for its writer to flush what it was sent.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// The core's end of a writer thread for records of type `R`. Dropping it lets the writer finish
/// (waiting up to 2 s), so a clean stop leaves every event handed over on disk.
#[derive(Debug)]
pub struct EventSink<R> {
    tx: Option<mpsc::Sender<R>>,
    done: mpsc::Receiver<()>,
}

impl<R: Send + 'static> EventSink<R> {
    /// Opens (creates, appends to) `path` if given, starts the webhook thread for `hook` if given,
    /// and the writer thread that renders each record with `render`. `what` names the events in
    /// thread names, errors and logs (`life-cycle events`, `routed messages`). A file that cannot
    /// be opened or a webhook URL that is not `http://…` is an error naming it.
    pub fn start(
        what: &'static str,
        path: Option<&Path>,
        hook: Option<&str>,
        render: impl Fn(&R) -> Option<String> + Send + 'static,
    ) -> anyhow::Result<EventSink<R>> {
        let out = match path {
            Some(path) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    anyhow::anyhow!("cannot open the {what} file {} for appending: {e}", path.display())
                })?;
                Some(std::io::BufWriter::new(file))
            }
            None => None,
        };
        let hook = match hook {
            Some(url) => {
                let endpoint = super::webhook::Endpoint::parse(url).map_err(|e| anyhow::anyhow!("{what} webhook: {e}"))?;
                Some(super::webhook::start(endpoint, what).map_err(|e| anyhow::anyhow!("cannot start the {what} webhook: {e}"))?)
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel::<R>();
        let (done_tx, done) = mpsc::channel();
        let path = path.map(Path::to_path_buf).unwrap_or_default();
        let writer = Writer { out, hook, what, path, failed: false };
        std::thread::Builder::new()
            .name(format!("lwt-{}", what.replace(' ', "-")))
            .spawn(move || {
                writer.run(rx, render);
                let _ = done_tx.send(());
            })
            .map_err(|e| anyhow::anyhow!("cannot start the {what} writer: {e}"))?;
        Ok(EventSink { tx: Some(tx), done })
    }

    /// Hands `record` to the writer; never blocks. A send fails only when the writer has gone
    /// (it logged why), and the record is then dropped.
    pub fn send(&self, record: R) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(record);
        }
    }
}

impl<R> Drop for EventSink<R> {
    fn drop(&mut self) {
        self.tx.take();
        let _ = self.done.recv_timeout(DRAIN_WAIT);
    }
}

/// The writer thread's state.
struct Writer {
    out: Option<std::io::BufWriter<File>>,
    /// The webhook thread's channel, if one was configured.
    hook: Option<mpsc::Sender<String>>,
    what: &'static str,
    path: PathBuf,
    /// A write failed (logged once; later events are still tried).
    failed: bool,
}

impl Writer {
    /// Writes what arrives, one line per event; flushes whenever the channel is empty, so every
    /// event is on disk before the writer waits again.
    fn run<R>(mut self, rx: mpsc::Receiver<R>, render: impl Fn(&R) -> Option<String>) {
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(r) = next.take() {
                if let Some(json) = render(&r) {
                    if let Some(out) = &mut self.out {
                        let res = out.write_all(json.as_bytes()).and_then(|()| out.write_all(b"\n"));
                        self.note(res);
                    }
                    if let Some(hook) = &self.hook {
                        let _ = hook.send(json);
                    }
                }
                next = rx.try_recv().ok();
            }
            if let Some(out) = &mut self.out {
                let res = out.flush();
                self.note(res);
            }
        }
    }

    fn note(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            if !self.failed {
                warn!(file = %self.path.display(), "cannot write {}: {e}", self.what);
            }
            self.failed = true;
        }
    }
}

/// The CloudEvents 1.0 context attributes every emulator event has, serialized in the order
/// Event Grid's samples use; each event type flattens it into its own struct beside its data.
#[derive(serde::Serialize)]
pub struct Envelope<'a> {
    specversion: &'static str,
    id: String,
    time: String,
    #[serde(rename = "type")]
    ty: &'static str,
    source: &'a str,
    subject: String,
}

impl<'a> Envelope<'a> {
    /// A new event of type `ty` about `subject` from `source` at `at`, with a fresh id.
    pub fn new(ty: &'static str, source: &'a str, subject: String, at: std::time::SystemTime) -> Envelope<'a> {
        Envelope { specversion: "1.0", id: super::lifecycle::event_id(), time: super::lifecycle::rfc3339(at), ty, source, subject }
    }
}

/// `value` as one line of JSON, or `None` (logged) if it cannot be serialized.
pub fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Option<String> {
    serde_json::to_string(value).map_err(|e| warn!("cannot serialize one of the {what}: {e}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_rendered_one_per_line_and_flushed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        {
            let sink = EventSink::start("test events", Some(&path), None, |n: &u32| (*n != 2).then(|| format!("{{\"n\":{n}}}"))).unwrap();
            for n in 1..=3 {
                sink.send(n);
            }
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":1}\n{\"n\":3}\n");
    }

    #[test]
    fn a_bad_file_or_webhook_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = EventSink::start("test events", Some(&dir.path().join("no/dir/e.jsonl")), None, |_: &u8| None).unwrap_err();
        assert!(e.to_string().contains("test events file") && e.to_string().contains("no/dir"), "{e}");
        let e = EventSink::start("test events", None, Some("https://x/"), |_: &u8| None).unwrap_err();
        assert!(e.to_string().contains("test events webhook") && e.to_string().contains("http://"), "{e}");
    }
}
