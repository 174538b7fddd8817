//! `eventflow-probe [PORT] [PATH]`: the `HEALTHCHECK` of every EventFlow image.
//!
//! Sends `GET PATH HTTP/1.0` (default `/healthz`) to `127.0.0.1:PORT` and exits 0 when the
//! answer is `200`, 1 otherwise, printing one line saying why. The images have no shell and
//! no curl, so this is the whole check. The port is the one in `EVENTFLOW_HTTP_ADDR` when that
//! is set (the service listens there), else `PORT`, else 8080.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// Docker kills a check that outlives its `--timeout`; failing earlier leaves a line saying why.
const TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_PORT: u16 = 8080;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let arg_port = args.next();
    let path = args.next().unwrap_or_else(|| "/healthz".to_owned());
    let port = match port(std::env::var("EVENTFLOW_HTTP_ADDR").ok(), arg_port) {
        Ok(port) => port,
        Err(message) => return fail(&message),
    };
    match probe(port, &path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("unhealthy: {message}");
    ExitCode::FAILURE
}

/// The port to probe: that of `http_addr` (`host:port`) when given, else `arg`, else 8080.
fn port(http_addr: Option<String>, arg: Option<String>) -> Result<u16, String> {
    if let Some(addr) = http_addr.filter(|addr| !addr.is_empty()) {
        return addr
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .ok_or_else(|| format!("EVENTFLOW_HTTP_ADDR {addr:?} has no port"));
    }
    match arg {
        Some(arg) => arg.parse().map_err(|_| format!("invalid port {arg:?}")),
        None => Ok(DEFAULT_PORT),
    }
}

/// One request on a fresh connection; HTTP/1.0 so the server closes after answering.
fn probe(port: u16, path: &str) -> Result<(), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|error| format!("{addr}: {error}"))?;
    let io = |error: std::io::Error| format!("{addr}{path}: {error}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    // One write: `write!` would send each piece of the format in a segment of its own.
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    // The status line fits in the first bytes; the body does not matter.
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]).map_err(io)? {
            0 => break,
            n => read += n,
        }
        if head[..read].contains(&b'\n') {
            break;
        }
    }
    check_status(&head[..read]).map_err(|message| format!("{addr}{path}: {message}"))
}

/// Accepts `HTTP/1.x 200 …`.
fn check_status(head: &[u8]) -> Result<(), String> {
    let line = head
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/1.") => Ok(()),
        _ if line.is_empty() => Err("no answer".to_owned()),
        _ => Err(format!("answered {line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// Serves one connection with `answer` and returns the port.
    fn serve_once(answer: &'static str) -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The whole head, however many reads it takes.
            let mut request = Vec::new();
            let mut buffer = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buffer).unwrap();
                assert_ne!(n, 0, "the probe closed before the end of its request");
                request.extend_from_slice(&buffer[..n]);
            }
            assert!(request.starts_with(b"GET /healthz HTTP/1.0\r\n"));
            stream.write_all(answer.as_bytes()).unwrap();
        });
        port
    }

    #[test]
    fn a_200_is_healthy() {
        let port = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert_eq!(probe(port, "/healthz"), Ok(()));
    }

    #[test]
    fn a_503_is_unhealthy_and_says_so() {
        let port = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let error = probe(port, "/healthz").unwrap_err();
        assert!(error.contains("503"), "{error}");
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(probe(port, "/healthz").is_err());
    }

    #[test]
    fn the_port_comes_from_the_service_address_first() {
        assert_eq!(
            port(Some("0.0.0.0:9001".into()), Some("8081".into())),
            Ok(9001)
        );
        assert_eq!(port(Some("[::]:9002".into()), None), Ok(9002));
        assert_eq!(port(None, Some("8081".into())), Ok(8081));
        assert_eq!(port(Some(String::new()), None), Ok(DEFAULT_PORT));
        assert!(port(Some("localhost".into()), None).is_err());
    }
}
