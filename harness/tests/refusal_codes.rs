//! Which refusal code a broker picks is a rule only where the spec makes it one. In 5.0 a refusal is
//! "a CONNACK >= 0x80 then the close, or a close without CONNACK" (MQTT-3.2.2-7, MQTT-3.1.4-1); the
//! exact code is a SHOULD (MQTT-3.2.2-12/-13, 4.13.1). In 3.1.1 each refusal has its return code.
//! A proxy in front of the reference broker changes the code of every refusing CONNACK: in 5.0 the
//! run reports SHOULD failures and no MUST failure (exit 0); in 3.1.1 it reports MUST failures (exit 1).

mod proxied;

use proxied::{check_through, failed};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The code a refusing CONNACK gets instead of the broker's: 5.0 → 0x80 (Unspecified error),
/// 3.1.1 → another non-zero return code.
fn other_code(connack: &mut [u8]) {
    // 0x20, remaining length (< 128 here), flags, code, [5.0 properties].
    if connack.len() < 4 || connack[0] != 0x20 || connack[3] == 0 {
        return;
    }
    connack[3] = if connack[1] > 2 {
        0x80
    } else if connack[3] == 0x05 {
        0x04
    } else {
        0x05
    };
}

/// Forwards every connection to `upstream`, rewriting the code of the broker's first packet if it
/// is a refusing CONNACK.
async fn code_changing_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    let _ = sw.shutdown().await;
                });
                let mut buf = vec![0u8; 65536];
                let mut first = true;
                loop {
                    let k = match sr.read(&mut buf).await {
                        Ok(k) if k > 0 => k,
                        _ => break,
                    };
                    if first {
                        other_code(&mut buf[..k]);
                        first = false;
                    }
                    if cw.write_all(&buf[..k]).await.is_err() {
                        break;
                    }
                }
                let _ = cw.shutdown().await;
            });
        }
    });
    addr
}

#[test]
fn rewriting_changes_only_refusals() {
    let mut ok = [0x20, 0x03, 0x00, 0x00, 0x00];
    other_code(&mut ok);
    assert_eq!(ok, [0x20, 0x03, 0x00, 0x00, 0x00]);
    let mut v5 = [0x20, 0x03, 0x00, 0x81, 0x00];
    other_code(&mut v5);
    assert_eq!(v5[3], 0x80);
    let mut v3 = [0x20, 0x02, 0x00, 0x05];
    other_code(&mut v3);
    assert_eq!(v3[3], 0x04);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_refusal_code_in_5_0_is_a_should_failure_not_a_must_failure() {
    let run = check_through(code_changing_proxy, &["features/v5/will-validation.feature"]).await;
    assert_eq!(run.out.status.code(), Some(0), "no MUST failure: {}", run.text());
    let all = run.verdicts();
    assert!(!all.iter().any(|v| failed(v, "Must")), "{all:#?}");
    let should: Vec<_> = all.iter().filter(|v| failed(v, "Should")).collect();
    assert!(!should.is_empty(), "the exact code is still judged, at SHOULD: {all:#?}");
    for v in should {
        assert!(v["observed"].as_str().unwrap().starts_with("CONNACK 0x80"), "{v}");
        assert!(v["expected"].as_str().unwrap().starts_with("CONNACK 0x"), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_return_code_in_3_1_1_is_a_must_failure() {
    let run = check_through(code_changing_proxy, &["features/v3.1.1/will-validation.feature"]).await;
    assert_eq!(run.out.status.code(), Some(1), "{}", run.text());
    let all = run.verdicts();
    assert!(all.iter().any(|v| failed(v, "Must") && v["expected"].as_str().unwrap().starts_with("CONNACK 0x0")), "{all:#?}");
}
