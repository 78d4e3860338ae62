//! TLS with per-client certificates: mosquitto launched with a generated test PKI (`--launch
//! mosquitto-tls`, `require_certificate true`) lets in only clients that present one. The quick
//! features over that TLS link are in `features_mosquitto.rs`.

use lwt_codec::ProtocolVersion;
use lwt_harness::sensor::{ConnectOutcome, Sensor, SensorSpec};
use lwt_harness::target::{Target, TargetSpec};
use lwt_harness::transport::{Endpoint, TlsClient};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_certificate_is_not_let_in() {
    let t = Target::start(&TargetSpec::Launch("mosquitto-tls".into())).await.unwrap();
    let ep = t.endpoint();
    let mut no_cert: TlsClient = (*ep.tls.clone().unwrap()).clone();
    no_cert.identity = None;
    let bare = Endpoint { addr: ep.addr, tls: Some(Arc::new(no_cert)), ws: None };
    let spec = SensorSpec::new("no-cert", ProtocolVersion::V311);
    let outcome = match bare.dial(None).await {
        Err(e) => format!("handshake refused: {e:#}"),
        Ok(stream) => match Sensor::connect_over(stream, spec).await {
            Ok(ConnectOutcome::Accepted(_)) => panic!("a client without a certificate was accepted"),
            Ok(other) => format!("{other:?}"),
            Err(e) => format!("{e:#}"),
        },
    };
    println!("without certificate: {outcome}");
    // And with the generated certificate the same client gets in.
    let ok = Sensor::connect_over(ep.dial(None).await.unwrap(), SensorSpec::new("with-cert", ProtocolVersion::V311)).await.unwrap();
    assert!(matches!(ok, ConnectOutcome::Accepted(_)));
    t.stop().await;
}
