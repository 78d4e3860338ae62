//! Launched targets: the command line (with the `mosquitto` and `mosquitto-tls` shorthands), the
//! process, its test PKI and how it is stopped.

use super::StopKind;
use crate::transport::{Identity, TlsClient};
use anyhow::{bail, Context};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long a launched broker may take to accept connections (first use may include installing it).
pub const LAUNCH_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// A free TCP port on 127.0.0.1 (bound and released; good enough on loopback).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Finds the mosquitto binary: `$LWT_MOSQUITTO`, then PATH, then /usr/sbin/mosquitto.
pub fn find_mosquitto() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("LWT_MOSQUITTO") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")]) {
        let p = dir.join("mosquitto");
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// Writes a fresh test PKI into `dir` (see [`crate::pki::Pki::write`]; a server uses
/// `server-chain.pem`, `server-key.pem` and `ca-chain.pem`) and says how clients reach that server:
/// trust the root, present `lwt-client`, and issue per-device certificates from the intermediate.
pub fn test_pki(dir: &std::path::Path) -> anyhow::Result<TlsClient> {
    crate::pki::generate(&["lwt-client".to_string()], 2)?.write(dir)?;
    Ok(TlsClient {
        ca: dir.join("root-ca.pem"),
        server_name: "localhost".into(),
        identity: Some(Identity { cert_chain: dir.join("lwt-client-chain.pem"), key: dir.join("lwt-client-key.pem") }),
        issuer: Some(Identity { cert_chain: dir.join("intermediate-ca.pem"), key: dir.join("intermediate-ca-key.pem") }),
    })
}

/// The argv, the label and the client TLS settings for the launch command `cmd` on `port` (with
/// `{port}` and `{dir}` filled in; `mosquitto` and `mosquitto-tls` written out as a config in `dir`).
pub(super) fn launch_argv(cmd: &str, port: u16, dir: &std::path::Path) -> anyhow::Result<(Vec<String>, String, Option<TlsClient>)> {
    let trimmed = cmd.trim();
    if trimmed == "mosquitto-tls" {
        let bin = find_mosquitto().context("mosquitto is not installed (apt-get install mosquitto) and LWT_MOSQUITTO is not set")?;
        let tls = test_pki(dir)?;
        // mosquitto verifies client chains against root + intermediate.
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nset_tcp_nodelay true\n\
                 cafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\nuse_identity_as_username true\n\
                 log_dest stderr\nlog_type error\nlog_type warning\n",
                ca = dir.join("ca-chain.pem").display(),
                cert = dir.join("server-chain.pem").display(),
                key = dir.join("server-key.pem").display(),
            ),
        )?;
        let argv = vec![bin.display().to_string(), "-c".into(), conf.display().to_string()];
        let version = mosquitto_version(&bin).unwrap_or_else(|| "mosquitto".into());
        return Ok((argv, format!("{version} with TLS (launched on 127.0.0.1:{port})"), Some(tls)));
    }
    if trimmed == "mosquitto" || trimmed.starts_with("mosquitto:") {
        let bin = match trimmed.strip_prefix("mosquitto:") {
            Some(p) => PathBuf::from(p),
            None => find_mosquitto().context("mosquitto is not installed (apt-get install mosquitto) and LWT_MOSQUITTO is not set")?,
        };
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nset_tcp_nodelay true\n\
                 log_dest stderr\nlog_type error\nlog_type warning\n"
            ),
        )?;
        let argv = vec![bin.display().to_string(), "-c".into(), conf.display().to_string()];
        let version = mosquitto_version(&bin).unwrap_or_else(|| "mosquitto".into());
        return Ok((argv, format!("{version} (launched on 127.0.0.1:{port})"), None));
    }
    if !trimmed.contains("{port}") {
        bail!("--launch command must contain {{port}} (replaced by a free loopback port), or be `mosquitto`");
    }
    let replaced = trimmed.replace("{port}", &port.to_string()).replace("{dir}", &dir.display().to_string());
    let argv = split_words(&replaced)?;
    // A launcher from fixtures/brokers/ is named after its broker, like `mosquitto`.
    let launcher = std::path::Path::new(&argv[0]);
    let label = match launcher.file_stem().and_then(|s| s.to_str()) {
        Some(name) if launcher.parent().is_some_and(|d| d.ends_with("fixtures/brokers")) => {
            format!("{name} (launched on 127.0.0.1:{port})")
        }
        _ => format!("`{replaced}`"),
    };
    Ok((argv, label, None))
}

/// `mosquitto 2.0.11` as the binary reports it, if it does.
pub fn mosquitto_version(bin: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(bin).arg("-h").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.contains("mosquitto version"))?;
    let v = line.split("version").nth(1)?.split_whitespace().next()?;
    Some(format!("mosquitto {v}"))
}

/// Splits a command line on whitespace, honouring single and double quotes.
fn split_words(s: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for ch in s.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        bail!("unbalanced quote in launch command {s:?}");
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    if out.is_empty() {
        bail!("empty launch command");
    }
    Ok(out)
}

/// Starts the broker process; its output goes to `broker.log` in the launch folder.
pub(super) fn spawn(argv: &[String], dir: &std::path::Path) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("broker.log"))?;
    Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start `{}`", argv.join(" ")))
}

/// Stops a launched broker with SIGTERM or SIGKILL, and kills it if it is still running 5 s later.
pub(super) async fn stop_child(mut c: Child, how: StopKind) {
    if let Some(pid) = c.id() {
        let sig = match how {
            StopKind::Graceful => libc::SIGTERM,
            StopKind::Kill => libc::SIGKILL,
        };
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(pid as i32, sig);
        }
    }
    if tokio::time::timeout(Duration::from_secs(5), c.wait()).await.is_err() {
        let _ = c.kill().await;
    }
}

/// Waits until `addr` accepts TCP connections, for at most `within`.
pub(super) async fn wait_until_accepting(addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_commands_need_a_port_placeholder() {
        let d = std::path::Path::new("/tmp");
        let (argv, _, _) = launch_argv("lwt-broker --bind '127.0.0.1:{port}'", 5, d).unwrap();
        assert_eq!(argv, vec!["lwt-broker", "--bind", "127.0.0.1:5"]);
        assert!(launch_argv("lwt-broker", 5, d).unwrap_err().to_string().contains("{port}"));
        let (_, label, _) = launch_argv("fixtures/brokers/aedes.sh {port} {dir}", 5, d).unwrap();
        assert_eq!(label, "aedes (launched on 127.0.0.1:5)");
        assert!(split_words("a 'b").is_err());
    }
}
