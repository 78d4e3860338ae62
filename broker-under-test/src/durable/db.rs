//! The database under the durable store: redb (pure Rust, copy-on-write B-trees; a commit returns
//! only after fsync, and a crash leaves the last committed state). Three tables of postcard records
//! keyed by client id or topic, and a `meta` table with the time of the last commit.

use super::records::{decode, PendingWillRecord, SessionRecord};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");
const WILLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pending_wills");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The database file in a data directory.
pub const FILE: &str = "lwt-broker.redb";

/// One batch of changes: `Some` writes the encoded record, `None` deletes the key.
#[derive(Default, Debug)]
pub struct Batch {
    /// Sessions by client id.
    pub sessions: Vec<(String, Option<Vec<u8>>)>,
    /// Retained messages by topic.
    pub retained: Vec<(String, Option<Vec<u8>>)>,
    /// Pending wills by client id.
    pub wills: Vec<(String, Option<Vec<u8>>)>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.retained.is_empty() && self.wills.is_empty()
    }
}

/// Everything the last commit left.
#[derive(Default, Debug)]
pub struct Contents {
    /// Session records.
    pub sessions: Vec<SessionRecord>,
    /// Retained messages (encoded `MessageRecord`s) by topic.
    pub retained: Vec<(String, Vec<u8>)>,
    /// Pending wills.
    pub wills: Vec<PendingWillRecord>,
    /// Wall-clock milliseconds of the last commit (0 for a new database).
    pub last_commit_ms: u64,
}

/// The open database.
pub struct Db {
    db: Database,
}

impl Db {
    /// Opens (or creates) the database in `dir`, creating `dir` if needed.
    pub fn open(dir: &Path) -> anyhow::Result<Db> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))?;
        let path = dir.join(FILE);
        let db = Database::create(&path).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let w = db.begin_write()?;
        {
            w.open_table(SESSIONS)?;
            w.open_table(RETAINED)?;
            w.open_table(WILLS)?;
            w.open_table(META)?;
        }
        w.commit()?;
        Ok(Db { db })
    }

    /// Reads everything back.
    pub fn load(&self) -> anyhow::Result<Contents> {
        let r = self.db.begin_read()?;
        let mut out = Contents::default();
        for e in r.open_table(SESSIONS)?.iter()? {
            let (k, v) = e?;
            out.sessions.push(decode(v.value(), "sessions", k.value())?);
        }
        for e in r.open_table(RETAINED)?.iter()? {
            let (k, v) = e?;
            out.retained.push((k.value().to_owned(), v.value().to_vec()));
        }
        for e in r.open_table(WILLS)?.iter()? {
            let (k, v) = e?;
            out.wills.push(decode(v.value(), "pending_wills", k.value())?);
        }
        out.last_commit_ms = r.open_table(META)?.get("last_commit_ms")?.map(|v| v.value()).unwrap_or(0);
        Ok(out)
    }

    /// Writes `batch` in one transaction; returns once it is on disk.
    pub fn commit(&self, batch: Batch, now_ms: u64) -> anyhow::Result<()> {
        let w = self.db.begin_write()?;
        {
            for (def, rows) in [(SESSIONS, batch.sessions), (RETAINED, batch.retained), (WILLS, batch.wills)] {
                let mut t = w.open_table(def)?;
                for (key, value) in rows {
                    match value {
                        Some(v) => {
                            t.insert(key.as_str(), v.as_slice())?;
                        }
                        None => {
                            t.remove(key.as_str())?;
                        }
                    }
                }
            }
            w.open_table(META)?.insert("last_commit_ms", now_ms)?;
        }
        w.commit()?;
        Ok(())
    }
}
