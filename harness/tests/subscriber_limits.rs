//! A will larger than one subscriber's Maximum Packet Size: not sent to it (MQTT-3.1.2-24), and
//! discarded for it alone, its connection going on (MQTT-3.1.2-25). A proxy in front of the
//! reference broker plays a broker that ends such a subscriber's connection instead (as rmqtt 0.24
//! does): the first rule still passes (nothing was sent, and the close proves it), the second fails.

mod proxied;

use proxied::check_through;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// The 5.0 CONNECT property Maximum Packet Size (0x27) = 512, as the scenario's "small" sends it.
const MAX_512: [u8; 5] = [0x27, 0x00, 0x00, 0x02, 0x00];

/// Forwards every connection to `upstream`; when any client is sent a read of 1 KiB or more (the
/// 2 KiB will), every connection whose CONNECT announced Maximum Packet Size 512 is closed.
async fn closing_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let big = Arc::new(Notify::new());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let big = big.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let mut first = vec![0u8; 4096];
                let Ok(k) = cr.read(&mut first).await else { return };
                let small = first[..k].windows(MAX_512.len()).any(|w| w == MAX_512);
                if k == 0 || sw.write_all(&first[..k]).await.is_err() {
                    return;
                }
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut buf = vec![0u8; 65536];
                loop {
                    let k = tokio::select! {
                        r = sr.read(&mut buf) => match r { Ok(k) if k > 0 => k, _ => break },
                        _ = big.notified(), if small => break,
                    };
                    if k >= 1024 {
                        big.notify_waiters();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_small_subscriber_passes_3_1_2_24_and_fails_3_1_2_25() {
    let args = ["features/v5/will-size-and-fan-out.feature", "--tags", "@MQTT-3.1.2-24 or @MQTT-3.1.2-25"];
    let run = check_through(closing_proxy, &args).await;
    assert_eq!(run.out.status.code(), Some(1), "{}", run.text());
    let by_rule = |rule: &str| run.scenarios().iter().find(|s| s["rules"][0] == rule).unwrap_or_else(|| panic!("{rule}: {:#}", run.report));
    let sent = by_rule("MQTT-3.1.2-24");
    assert_eq!(sent["outcome"], "Passed", "{sent:#}");
    assert!(sent.to_string().contains("the broker closed the connection"), "{sent:#}");
    let kept = by_rule("MQTT-3.1.2-25");
    let last = kept["verdicts"].as_array().unwrap().last().unwrap();
    assert_eq!((last["status"].as_str(), last["level"].as_str()), (Some("Fail"), Some("Must")), "{kept:#}");
    assert!(last["observed"].as_str().unwrap().contains("closed"), "{last}");
}
