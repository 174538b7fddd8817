//! An EventFlow webhook receiver that verifies each delivery's signature.
//!
//! Standard Webhooks scheme: the signature is HMAC-SHA256, keyed with the
//! base64-decoded part of the endpoint's `whsec_…` secret, over
//! "{webhook-id}.{webhook-timestamp}.{raw body}", sent base64-encoded in
//! `webhook-signature` as "v1,<sig>" (several, space-separated, during a
//! secret rotation). A plain-std HTTP/1.1 server, to keep the example short;
//! use your web framework's request instead.
//!
//!     WEBHOOK_SECRET=whsec_… PORT=4000 cargo run --release

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const TOLERANCE_SECONDS: i64 = 5 * 60;

/// True when one `v1,` signature of `signatures` signs this delivery under `secret`.
fn verify(secret: &str, id: &str, timestamp: &str, signatures: &str, body: &[u8]) -> bool {
    let (Ok(timestamp), false) = (timestamp.parse::<i64>(), id.is_empty()) else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64);
    // Refuse old (replayed) or future deliveries.
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return false;
    }
    let Ok(key) = STANDARD.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    signatures
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|candidate| {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
                return false;
            };
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            // Constant-time comparison.
            mac.verify_slice(&candidate).is_ok()
        })
}

fn handle(stream: TcpStream, secret: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line)?; // the request line
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    };
    let length = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let verified = verify(
        secret,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
    );
    let status = if verified {
        // Deliveries are at least once: deduplicate on webhook-id if it matters.
        println!("verified {} {}", header("webhook-id"), String::from_utf8_lossy(&body));
        "204 No Content"
    } else {
        println!("refused: bad signature");
        "401 Unauthorized"
    };
    let mut stream = stream;
    write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

fn main() -> std::io::Result<()> {
    let secret = std::env::var("WEBHOOK_SECRET").expect("WEBHOOK_SECRET (whsec_…) is set");
    let port = std::env::var("PORT").unwrap_or_else(|_| "4000".to_owned());
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    println!("listening on http://127.0.0.1:{port}/");
    for stream in listener.incoming() {
        if let Err(error) = stream.and_then(|stream| handle(stream, &secret)) {
            eprintln!("{error}");
        }
    }
    Ok(())
}
