//! The durable store on its own: what a commit keeps, what is lost without one, and what a reopen
//! reports for the restart.

use super::*;
use crate::codec::{Properties, ProtocolVersion, QoS, Will};
use crate::store::{ArmedWill, Message, PendingWill, Session};
use std::time::Duration;

fn will(topic: &str) -> Will {
    Will { topic: topic.into(), payload: "gone".into(), qos: QoS::AtLeastOnce, retain: false, properties: Properties::new() }
}

fn message(topic: &str, expires_in: Option<Duration>) -> Arc<Message> {
    Arc::new(Message {
        topic: topic.into(),
        payload: "m".into(),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Properties::new(),
        expires_at: expires_in.map(|d| Instant::now() + d),
        publisher: None,
    })
}

#[tokio::test]
async fn committed_state_comes_back_and_live_sessions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let due = Instant::now() + Duration::from_secs(30);
    {
        let mut st = DurableStore::open(dir.path()).unwrap();
        assert_eq!(st.take_recovery().unwrap().live_at_crash, Vec::<String>::new());
        let mut live = Session::new("live".into(), ProtocolVersion::V5, 60);
        live.connection = Some(1);
        live.will = Some(ArmedWill { will: will("clients/live/status"), delay: 0, owner: None });
        st.insert_session(live);
        st.insert_session(Session::new("offline".into(), ProtocolVersion::V311, crate::store::NEVER));
        st.put_pending_will(PendingWill { client_id: "gone".into(), will: will("clients/gone/status"), due, cause: "FIN".into(), owner: None });
        st.set_retained("r/1", Some(message("r/1", None)));
        st.set_retained("r/2", Some(message("r/2", Some(Duration::from_millis(1)))));
        st.commit().unwrap();
        // Not committed: lost.
        st.insert_session(Session::new("uncommitted".into(), ProtocolVersion::V5, 60));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut st = DurableStore::open(dir.path()).unwrap();
    let rec = st.take_recovery().unwrap();
    assert_eq!(rec.live_at_crash, vec!["live".to_owned()]);
    assert_eq!(rec.pending_wills.len(), 1);
    let back = rec.pending_wills[0].1;
    let off = if back > due { back - due } else { due - back };
    assert!(off <= Duration::from_millis(2), "due instant moved by {off:?}");
    assert!(rec.last_commit_ms > 0);
    let mut ids = st.session_ids();
    ids.sort();
    assert_eq!(ids, ["live", "offline"]);
    let live = st.session("live").unwrap();
    assert_eq!(live.connection, None, "no connection survives a restart");
    assert_eq!(live.will.as_ref().map(|a| a.will.topic.as_str()), Some("clients/live/status"));
    assert!(st.has_retained("r/1"));
    assert!(!st.has_retained("r/2"), "a retained message that expired while down is gone");
    assert_eq!(st.take_pending_will("gone").map(|w| w.cause), Some("FIN".to_owned()));
}

#[tokio::test]
async fn committed_deletions_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut st = DurableStore::open(dir.path()).unwrap();
        st.insert_session(Session::new("a".into(), ProtocolVersion::V5, 60));
        st.put_pending_will(PendingWill {
            client_id: "a".into(),
            will: will("w"),
            due: Instant::now() + Duration::from_secs(60),
            cause: "RST".into(),
            owner: None,
        });
        st.set_retained("t", Some(message("t", None)));
        st.commit().unwrap();
        st.remove_session("a");
        st.take_pending_will("a");
        st.set_retained("t", None);
        st.commit().unwrap();
    }
    let mut st = DurableStore::open(dir.path()).unwrap();
    assert_eq!(st.session_count(), 0);
    assert_eq!(st.pending_will_count(), 0);
    assert_eq!(st.retained_count(), 0);
    assert!(st.take_recovery().unwrap().pending_wills.is_empty());
}

#[test]
fn an_unusable_data_directory_is_a_clear_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let e = DurableStore::open(file.path()).err().expect("a file is not a directory").to_string();
    assert!(e.contains("cannot create data directory"), "{e}");
}
