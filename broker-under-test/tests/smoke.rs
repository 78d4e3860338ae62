//! Smoke test of the test client itself against the embedded broker.
mod common;
use common::*;
use lwt_broker::codec::*;
use std::time::Duration;

#[tokio::test]
async fn abrupt_close_publishes_the_will_to_a_watcher() {
    let b = broker().await;
    for v in VERSIONS {
        let mut s = TestClient::connected(b.local_addr(), connect(v, "watcher")).await;
        s.subscribe("clients/+/status", QoS::AtLeastOnce).await;
        let w = TestClient::connected(
            b.local_addr(),
            connect_with_will(v, "sensor1", will("clients/sensor1/status", "offline", QoS::AtLeastOnce, false)),
        )
        .await;
        w.close().await;
        let p = s.expect_publish().await;
        assert_eq!((p.topic.as_str(), &p.payload[..], p.qos), ("clients/sensor1/status", &b"offline"[..], QoS::AtLeastOnce));
        s.assert_nothing_for(Duration::from_millis(300)).await;
        s.disconnect(0, Properties::new()).await;
    }
    b.shutdown().await;
}
