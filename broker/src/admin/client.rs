//! A minimal blocking HTTP/1.1 client for the admin commands: one request per
//! connection (`Connection: close`), basic auth, JSON bodies. Enough for talking to
//! our own management API without pulling an HTTP client stack into the binary.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;

/// Why a request did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid --url {0:?}: {1}")]
    Url(String, &'static str),
    #[error("cannot reach the broker at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("talking to the broker at {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("the broker at {0} sent a malformed HTTP response")]
    Malformed(String),
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    port: u16,
    /// Path prefix of the API (normally empty).
    prefix: String,
    auth: String,
}

/// Largest response read: far above any listing a broker produces.
const MAX_RESPONSE: u64 = 256 * 1024 * 1024;

impl Client {
    pub fn new(url: &str, user: &str, pass: &str) -> Result<Self, ClientError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| ClientError::Url(url.into(), "only http:// URLs are supported"))?;
        let (hostport, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>()
                    .map_err(|_| ClientError::Url(url.into(), "the port is not a number"))?,
            ),
            _ => (hostport, 80),
        };
        if host.is_empty() {
            return Err(ClientError::Url(url.into(), "no host"));
        }
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Ok(Self {
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
            auth,
        })
    }

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        self.send(method, path, body, "")
    }

    /// DELETE with RabbitMQ's `X-Reason` header (closing a connection).
    pub fn request_with_reason(&self, path: &str, reason: &str) -> Result<Response, ClientError> {
        // No line breaks: they would end the header early.
        let reason: String = reason.chars().filter(|c| !c.is_control()).collect();
        self.send("DELETE", path, None, &format!("X-Reason: {reason}\r\n"))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        extra_headers: &str,
    ) -> Result<Response, ClientError> {
        let addr = self.addr();
        let io = |source| ClientError::Io {
            addr: addr.clone(),
            source,
        };
        let target = addr
            .to_socket_addrs()
            .map_err(|source| ClientError::Connect {
                addr: addr.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| ClientError::Url(addr.clone(), "the host has no address"))?;
        let mut stream =
            TcpStream::connect_timeout(&target, Duration::from_secs(10)).map_err(|source| {
                ClientError::Connect {
                    addr: addr.clone(),
                    source,
                }
            })?;
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .map_err(io)?;
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\
             User-Agent: trident-cli\r\n{extra_headers}\r\n",
            self.prefix,
            self.auth,
            body.len()
        );
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body).map_err(io)?;
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE)
            .read_to_end(&mut raw)
            .map_err(io)?;
        parse_response(&raw).ok_or(ClientError::Malformed(addr))
    }
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for line in lines {
        let (k, v) = line.split_once(':')?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if k == "content-length" {
            length = v.parse().ok();
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        match length {
            Some(n) => rest.get(..n)?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Some(Response { status, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Percent-encodes one path segment (a vhost `/` becomes `%2F`, as RabbitMQ's API
/// expects).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_length_and_chunks_parse() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"{}".as_slice()));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, b"abcd".as_slice()));
        assert!(parse_response(b"garbage").is_none());
    }

    #[test]
    fn urls_and_segments() {
        let c = Client::new("http://127.0.0.2:15672/", "u", "p").unwrap();
        assert_eq!(c.addr(), "127.0.0.2:15672");
        assert!(Client::new("https://x", "u", "p").is_err());
        assert_eq!(segment("/"), "%2F");
        assert_eq!(segment("a b"), "a%20b");
    }
}
