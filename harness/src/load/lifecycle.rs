//! Will latency vs Event Grid **client life-cycle event** latency for the same disconnects (issue
//! 16): after a run against a broker that writes life-cycle events (CloudEvents JSON Lines, see
//! `fixtures/namespaces/README.md`, "Client life-cycle events"), the harness reads the file, pairs
//! each faulted client's connection with its `MQTTClientSessionConnected` event (the first one of
//! that session name since the run started), takes the `MQTTClientSessionDisconnected` event with the
//! same `sequenceNumber` (the documented pairing), and records per fault kind the latency from the
//! fault to the event's `time` beside the will latency, the disconnects with no event, and the
//! `disconnectionReason` distribution.

use super::scenario::FaultKind;
use super::strike::Hit;
use super::summary::{decode_hist, encode_hist, new_hist, record, Pcts};
use anyhow::Context;
use hdrhistogram::Histogram;
use lwt_broker::eventgrid::lifecycle::{CONNECTED, DISCONNECTED};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::time::Instant;

/// How long the harness waits for the broker's writer thread to append events still missing.
const FILE_WAIT: Duration = Duration::from_secs(2);

/// Maps the harness's monotonic instants onto the wall clock, so they compare with the events'
/// `time`.
///
/// The harness times faults with `tokio::time::Instant` (CLOCK_MONOTONIC); the broker stamps events
/// with `SystemTime::now()` (CLOCK_REALTIME), truncated to the microsecond. Both clocks are this
/// machine's, so one anchor pair (an `Instant` and a `SystemTime` read back to back, the pair whose
/// two monotonic reads bracket the wall-clock read most tightly of a few tries, the midpoint taken)
/// converts one into the other: wall(i) = anchor wall + (i − anchor instant). The anchor is taken
/// right after the faults are applied, so only the clocks' drift over the few seconds between a fault
/// and its event (NTP slews at most 0.5 ms/s) and the anchor's bracket (µs) add error; a wall-clock
/// step during the run (not a slew) would shift every event latency by the step.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    mono: Instant,
    wall: SystemTime,
}

impl WallClock {
    /// Reads the anchor pair now.
    pub fn now() -> WallClock {
        let mut best: Option<(Duration, WallClock)> = None;
        for _ in 0..5 {
            let a = Instant::now();
            let wall = SystemTime::now();
            let b = Instant::now();
            let gap = b - a;
            if best.as_ref().is_none_or(|(g, _)| gap < *g) {
                best = Some((gap, WallClock { mono: a + gap / 2, wall }));
            }
        }
        best.expect("five tries").1
    }

    /// The wall-clock time of monotonic instant `i`.
    pub fn wall(&self, i: Instant) -> SystemTime {
        if i >= self.mono {
            self.wall + (i - self.mono)
        } else {
            self.wall - (self.mono - i)
        }
    }
}

/// The fields of a life-cycle event line the measurement needs (serde ignores the rest).
#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    time: String,
    data: LineData,
}

/// `data` of a life-cycle event.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineData {
    client_session_name: String,
    sequence_number: u64,
    #[serde(default)]
    disconnection_reason: Option<String>,
}

/// One life-cycle event as read from the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `MQTTClientSessionConnected` (else disconnected).
    pub connected: bool,
    /// `data.clientSessionName`: the client id.
    pub session: String,
    /// `data.sequenceNumber`: pairs a disconnect with its connect.
    pub seq: u64,
    /// `data.disconnectionReason` (disconnects).
    pub reason: Option<String>,
    /// The event's `time`.
    pub at: SystemTime,
}

/// Reads every Connected / Disconnected event of a JSON Lines file; returns them and the number of
/// lines that were not such an event (other types, a torn last line).
pub fn read_events(path: &Path) -> anyhow::Result<(Vec<Event>, u64)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the life-cycle events file {}", path.display()))?;
    let mut out = Vec::new();
    let mut skipped = 0;
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(line) = serde_json::from_str::<Line>(l) else {
            skipped += 1;
            continue;
        };
        let connected = match line.kind.as_str() {
            CONNECTED => true,
            DISCONNECTED => false,
            _ => {
                skipped += 1;
                continue;
            }
        };
        let Ok(at) = OffsetDateTime::parse(&line.time, &Rfc3339) else {
            skipped += 1;
            continue;
        };
        let d = line.data;
        out.push(Event { connected, session: d.client_session_name, seq: d.sequence_number, reason: d.disconnection_reason, at: at.into() });
    }
    Ok((out, skipped))
}

/// Per fault kind: the will and the life-cycle event of the same disconnects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KindRow {
    /// Fault kind label (`fin`, `rst`, `silence`, `disconnect-0x04`, …).
    pub fault: String,
    /// Clients of this kind that were faulted.
    pub clients: u64,
    /// Will latency from the planned instant (as the headline), ms.
    pub wills_ms: Pcts,
    /// Will latency from the actual instant, ms.
    pub wills_from_actual_ms: Pcts,
    /// Fault (planned) → the Disconnected event's `time`, ms.
    pub events_ms: Pcts,
    /// Fault (actual) → the Disconnected event's `time`, ms.
    pub events_from_actual_ms: Pcts,
    /// Faulted clients with no Disconnected event for the faulted connection.
    pub events_missing: u64,
    /// `disconnectionReason` → events.
    pub reasons: BTreeMap<String, u64>,
    /// The four histograms (hex V2-deflate, µs), so repetitions and shards merge exactly.
    pub histograms: KindHistograms,
}

/// The histograms of a [`KindRow`], encoded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KindHistograms {
    /// See [`KindRow::wills_ms`].
    pub wills_planned: String,
    /// See [`KindRow::wills_from_actual_ms`].
    pub wills_actual: String,
    /// See [`KindRow::events_ms`].
    pub events_planned: String,
    /// See [`KindRow::events_from_actual_ms`].
    pub events_actual: String,
}

/// The decoded histograms of one kind while they are recorded or merged.
struct KindHists {
    wills_planned: Histogram<u64>,
    wills_actual: Histogram<u64>,
    events_planned: Histogram<u64>,
    events_actual: Histogram<u64>,
}

impl KindHists {
    fn new() -> KindHists {
        KindHists { wills_planned: new_hist(), wills_actual: new_hist(), events_planned: new_hist(), events_actual: new_hist() }
    }
    fn decode(h: &KindHistograms) -> anyhow::Result<KindHists> {
        Ok(KindHists {
            wills_planned: decode_hist(&h.wills_planned)?,
            wills_actual: decode_hist(&h.wills_actual)?,
            events_planned: decode_hist(&h.events_planned)?,
            events_actual: decode_hist(&h.events_actual)?,
        })
    }
    fn add(&mut self, o: &KindHists) {
        for (a, b) in [
            (&mut self.wills_planned, &o.wills_planned),
            (&mut self.wills_actual, &o.wills_actual),
            (&mut self.events_planned, &o.events_planned),
            (&mut self.events_actual, &o.events_actual),
        ] {
            a.add(b).expect("same bounds");
        }
    }
    /// Writes the percentiles and the encoded histograms into `row`.
    fn fill(&self, row: &mut KindRow) {
        row.wills_ms = Pcts::of(&self.wills_planned);
        row.wills_from_actual_ms = Pcts::of(&self.wills_actual);
        row.events_ms = Pcts::of(&self.events_planned);
        row.events_from_actual_ms = Pcts::of(&self.events_actual);
        row.histograms = KindHistograms {
            wills_planned: encode_hist(&self.wills_planned),
            wills_actual: encode_hist(&self.wills_actual),
            events_planned: encode_hist(&self.events_planned),
            events_actual: encode_hist(&self.events_actual),
        };
    }
}

/// What the life-cycle events of a run showed, per fault kind (`Summary::lifecycle`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleReport {
    /// The file read.
    pub file: String,
    /// Connected / Disconnected events in it (all runs that wrote to it).
    pub events_read: u64,
    /// Lines that were not such an event.
    pub lines_skipped: u64,
    /// One row per fault kind, in order of first appearance.
    pub kinds: Vec<KindRow>,
}

impl LifecycleReport {
    /// Merges repetitions or shards: counts add, histograms merge, kinds by label.
    pub fn merge<'a>(parts: impl IntoIterator<Item = &'a LifecycleReport>) -> anyhow::Result<Option<LifecycleReport>> {
        let mut out: Option<LifecycleReport> = None;
        let mut hists: Vec<KindHists> = Vec::new();
        for p in parts {
            let o = out.get_or_insert_with(|| LifecycleReport { file: p.file.clone(), ..LifecycleReport::default() });
            o.events_read = o.events_read.max(p.events_read);
            o.lines_skipped = o.lines_skipped.max(p.lines_skipped);
            for row in &p.kinds {
                let k = match o.kinds.iter().position(|r| r.fault == row.fault) {
                    Some(k) => k,
                    None => {
                        o.kinds.push(KindRow { fault: row.fault.clone(), ..KindRow::default() });
                        hists.push(KindHists::new());
                        o.kinds.len() - 1
                    }
                };
                let r = &mut o.kinds[k];
                r.clients += row.clients;
                r.events_missing += row.events_missing;
                for (reason, n) in &row.reasons {
                    *r.reasons.entry(reason.clone()).or_default() += n;
                }
                hists[k].add(&KindHists::decode(&row.histograms)?);
            }
        }
        if let Some(o) = &mut out {
            for (row, h) in o.kinds.iter_mut().zip(&hists) {
                h.fill(row);
            }
        }
        Ok(out)
    }

    /// Whether every faulted client's disconnect has its event.
    pub fn complete(&self) -> bool {
        self.kinds.iter().all(|k| k.events_missing == 0)
    }
}

/// What one run hands the measurement.
pub(super) struct RunFacts<'a> {
    /// Local client ids.
    pub(super) ids: &'a [String],
    /// Per local client: how it was hit.
    pub(super) hits: &'a [Option<Hit>],
    /// Per local client: whether its will had to arrive.
    pub(super) expected: &'a [bool],
    /// Per observer, per local client: the first will's arrival.
    pub(super) first: &'a [Vec<Option<Instant>>],
    /// The will delay in force (the event comes at the disconnect, not when the will is due).
    pub(super) delay: Duration,
    /// Before the first CONNECT of this run: older events of the same names are ignored.
    pub(super) since: SystemTime,
    /// The anchor of the wall-clock conversion.
    pub(super) clock: WallClock,
}

/// Reads `path` (again every 100 ms for up to [`FILE_WAIT`] while faulted clients still lack their
/// event, since the broker appends from a thread of its own) and measures the run.
pub(super) async fn collect(path: &Path, f: &RunFacts<'_>) -> anyhow::Result<LifecycleReport> {
    let until = Instant::now() + FILE_WAIT;
    loop {
        let (events, skipped) = read_events(path)?;
        let r = measure(path, &events, skipped, f);
        if r.complete() || Instant::now() >= until {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The per-kind rows for one run's `events`.
fn measure(path: &Path, events: &[Event], skipped: u64, f: &RunFacts<'_>) -> LifecycleReport {
    let wanted: HashMap<&str, usize> = f.ids.iter().enumerate().filter(|(c, _)| f.hits[*c].is_some()).map(|(c, id)| (id.as_str(), c)).collect();
    // The run's connection of each client: its first Connected event since the run began.
    let mut seq: Vec<Option<(u64, SystemTime)>> = vec![None; f.ids.len()];
    for e in events.iter().filter(|e| e.connected && e.at >= f.since) {
        let Some(&c) = wanted.get(e.session.as_str()) else { continue };
        if seq[c].is_none_or(|(_, at)| e.at < at) {
            seq[c] = Some((e.seq, e.at));
        }
    }
    let mut ends: HashMap<(&str, u64), &Event> = HashMap::new();
    for e in events.iter().filter(|e| !e.connected && e.at >= f.since) {
        ends.entry((e.session.as_str(), e.seq)).or_insert(e);
    }
    let mut rows: Vec<(FaultKind, KindRow, KindHists)> = Vec::new();
    let since = |from: SystemTime, to: SystemTime| to.duration_since(from).unwrap_or(Duration::ZERO);
    for (c, h) in f.hits.iter().enumerate() {
        let Some(h) = h else { continue };
        let k = match rows.iter().position(|(k, _, _)| *k == h.kind) {
            Some(k) => k,
            None => {
                rows.push((h.kind, KindRow { fault: h.kind.label().into(), ..KindRow::default() }, KindHists::new()));
                rows.len() - 1
            }
        };
        let (_, row, hs) = &mut rows[k];
        row.clients += 1;
        if f.expected[c] {
            for at in f.first.iter().filter_map(|o| o[c]) {
                record(&mut hs.wills_planned, at.saturating_duration_since(h.due_planned));
                record(&mut hs.wills_actual, at.saturating_duration_since(h.due_actual));
            }
        }
        let end = seq[c].and_then(|(s, _)| ends.get(&(f.ids[c].as_str(), s)));
        let Some(e) = end else {
            row.events_missing += 1;
            continue;
        };
        // The disconnect is detected at the fault (the keep-alive deadline for silence), which is
        // when the will is due less its delay.
        record(&mut hs.events_planned, since(f.clock.wall(h.due_planned - f.delay), e.at));
        record(&mut hs.events_actual, since(f.clock.wall(h.due_actual - f.delay), e.at));
        *row.reasons.entry(e.reason.clone().unwrap_or_else(|| "(none)".into())).or_default() += 1;
    }
    let kinds = rows
        .into_iter()
        .map(|(_, mut row, hs)| {
            hs.fill(&mut row);
            row
        })
        .collect();
    LifecycleReport { file: path.display().to_string(), events_read: events.len() as u64, lines_skipped: skipped, kinds }
}

/// The file to read: `--lifecycle-events FILE` if given, else the one the embedded broker writes.
pub fn file_for(flag: Option<&PathBuf>, target: &crate::target::Target) -> Option<PathBuf> {
    flag.cloned().or_else(|| target.lifecycle_events_file())
}

fn ms(v: f64) -> String {
    format!("{v:.3}")
}

fn reasons(r: &BTreeMap<String, u64>) -> String {
    if r.is_empty() {
        return "-".into();
    }
    r.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

/// The table's header cells.
const HEAD: [&str; 6] = ["fault", "clients", "wills p50 / p99 (ms)", "life-cycle events p50 / p99 (ms)", "events missing", "disconnectionReason"];

/// The cells of each row, in [`HEAD`] order.
fn cells(l: &LifecycleReport) -> Vec<[String; 6]> {
    l.kinds
        .iter()
        .map(|k| {
            [
                k.fault.clone(),
                k.clients.to_string(),
                format!("{} / {}", ms(k.wills_ms.p50), ms(k.wills_ms.p99)),
                format!("{} / {}", ms(k.events_ms.p50), ms(k.events_ms.p99)),
                k.events_missing.to_string(),
                reasons(&k.reasons),
            ]
        })
        .collect()
}

/// What the latencies are counted from, for the table's caption.
const CAPTION: &str = "latency from the planned fault (the keep-alive deadline for silence) to the will's arrival and to the \
                       Disconnected event's `time`; the same from the actual instant is in summary.json";

/// The per-kind comparison as aligned text for the terminal.
pub fn text(l: &LifecycleReport) -> String {
    let rows = cells(l);
    let mut w = HEAD.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |r: &[String]| r.iter().enumerate().map(|(i, c)| format!("{c:<width$}", width = w[i])).collect::<Vec<_>>().join("  ").trim_end().to_string() + "\n";
    let mut out = format!("will vs life-cycle event, per fault kind ({}):\n", l.file);
    out += &line(&HEAD.map(String::from));
    for r in &rows {
        out += &line(r);
    }
    out + &format!("({CAPTION})\n")
}

/// The per-kind comparison as a markdown section.
pub fn markdown(l: &LifecycleReport) -> String {
    let mut md = format!("## Will vs life-cycle event, per fault kind\n\nEvents read from `{}`; {CAPTION}.\n\n| {} |\n|{}\n", l.file, HEAD.join(" | "), "---|".repeat(HEAD.len()));
    for r in cells(l) {
        md += &format!("| {} |\n", r.join(" | "));
    }
    md
}

/// The per-kind comparison as an HTML section (cells already escaped by `esc`).
pub fn html(l: &LifecycleReport, esc: fn(&str) -> String) -> String {
    let mut h = format!("<h2>Will vs life-cycle event, per fault kind</h2><p>Events read from <code>{}</code>; {}.</p><table><tr>", esc(&l.file), esc(CAPTION));
    for c in HEAD {
        h += &format!("<th>{}</th>", esc(c));
    }
    h += "</tr>";
    for r in cells(l) {
        h += "<tr>";
        for c in r {
            h += &format!("<td>{}</td>", esc(&c));
        }
        h += "</tr>";
    }
    h + "</table>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_broker_lines_and_skips_others() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        let lines = [
            r#"{"specversion":"1.0","id":"a","time":"2026-12-05T04:58:07.123456Z","type":"Microsoft.EventGrid.MQTTClientSessionConnected","source":"s","subject":"clients/x/sessions/x","datacontenttype":"application/json","data":{"namespaceName":"n","clientAuthenticationName":"x","clientSessionName":"x","sequenceNumber":1}}"#,
            r#"{"specversion":"1.0","id":"b","time":"2026-12-05T04:58:08.000001Z","type":"Microsoft.EventGrid.MQTTClientSessionDisconnected","source":"s","subject":"clients/x/sessions/x","datacontenttype":"application/json","data":{"namespaceName":"n","clientAuthenticationName":"x","clientSessionName":"x","sequenceNumber":1,"disconnectionReason":"ConnectionLost"}}"#,
            r#"{"type":"Microsoft.EventGrid.MQTTClientCreatedOrUpdated"}"#,
            "{\"torn",
        ];
        std::fs::write(&p, lines.join("\n")).unwrap();
        let (ev, skipped) = read_events(&p).unwrap();
        assert_eq!((ev.len(), skipped), (2, 2));
        assert!(ev[0].connected && !ev[1].connected);
        assert_eq!(ev[1].reason.as_deref(), Some("ConnectionLost"));
        assert_eq!(ev[1].at.duration_since(ev[0].at).unwrap(), Duration::from_micros(876_545));
    }

    #[test]
    fn the_wall_clock_anchor_round_trips() {
        let c = WallClock::now();
        let i = Instant::now();
        let d = c.wall(i + Duration::from_millis(5)).duration_since(c.wall(i)).unwrap();
        assert_eq!(d, Duration::from_millis(5));
        let skew = c.wall(Instant::now()).duration_since(SystemTime::now()).unwrap_or_else(|e| e.duration());
        assert!(skew < Duration::from_millis(50), "{skew:?}");
    }
}
