//! An idle keep-alive connection outlives actix's default 5 s: behind an AWS
//! ALB (60 s idle timeout) a server closing first causes sporadic 502s.

use std::time::Duration;

use eventflow_test_support::spawn_gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one `GET /healthz` on `stream` and returns the response head.
async fn get_healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: gateway\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&response).contains("\r\n\r\n") {
        let read = stream.read(&mut buf).await.unwrap();
        assert!(read > 0, "the server closed the connection mid-response");
        response.extend_from_slice(&buf[..read]);
    }
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn an_idle_connection_stays_open_past_the_default_keep_alive() {
    let gateway = spawn_gateway().await;
    let mut stream = TcpStream::connect(gateway.http_addr).await.unwrap();
    assert!(get_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));

    // Idle for longer than actix's default keep-alive (5 s): a close shows as
    // the read ending (0 bytes) before the deadline.
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(7), stream.read(&mut buf)).await;
    assert!(
        closed.is_err(),
        "the server closed an idle connection within 7 s: {closed:?}"
    );
    assert!(get_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
}
