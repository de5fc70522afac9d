//! A loopback TCP proxy between an application and PostgreSQL that counts database round
//! trips and can add latency each way, as a network link would. Two modes:
//!
//! - [`Mode::Protocol`] reads the protocol: it refuses TLS (the application talks
//!   plaintext), follows the message framing and counts the server's ReadyForQuery messages
//!   after startup, one per round trip a statement takes.
//! - [`Mode::Passthrough`] carries TLS untouched and counts the client's flights: each time
//!   the client sends after it has received something (or first), one round trip begins.
//!   With the TCP handshake, which the proxy charges by holding a connection's first bytes
//!   for one round trip, that is every round trip a connection takes, from the first SYN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Startup-phase request codes (protocol "message flow: start-up"): these two ask for
/// encryption first and expect a one-byte answer instead of authentication.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
/// A startup packet is small (user, database, a few options); anything bigger is garbage.
const MAX_STARTUP_BYTES: usize = 10_000;
/// PostgreSQL refuses messages over 1 GB; a length beyond that means the framing is lost.
const MAX_MESSAGE_BYTES: u32 = 1 << 30;

/// What the proxy saw, over every connection it carried.
#[derive(Default)]
pub struct Counters {
    connections: AtomicU64,
    /// ReadyForQuery messages after each connection's startup: one per round trip.
    ready_for_query: AtomicU64,
    /// Reads from the client that held a Sync or a simple Query: the requests those
    /// ReadyForQuery messages answer (on loopback one write arrives as one read).
    sync_flushes: AtomicU64,
    /// Passthrough: the client's flights, each the start of a round trip.
    client_flights: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub connections: u64,
    pub ready_for_query: u64,
    pub sync_flushes: u64,
    pub client_flights: u64,
}

impl Snapshot {
    /// Passthrough: the round trips of the connections seen, TCP handshakes included.
    pub fn link_round_trips(&self) -> u64 {
        self.connections + self.client_flights
    }
}

impl Counters {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections: self.connections.load(Ordering::SeqCst),
            ready_for_query: self.ready_for_query.load(Ordering::SeqCst),
            sync_flushes: self.sync_flushes.load(Ordering::SeqCst),
            client_flights: self.client_flights.load(Ordering::SeqCst),
        }
    }
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, before: Snapshot) -> Snapshot {
        Snapshot {
            connections: self.connections - before.connections,
            ready_for_query: self.ready_for_query - before.ready_for_query,
            sync_flushes: self.sync_flushes - before.sync_flushes,
            client_flights: self.client_flights - before.client_flights,
        }
    }
}

/// Splits one direction's byte stream into typed messages (`type byte, Int32 length`
/// including itself, body), across reads of any size. Bodies are skipped, not buffered.
#[derive(Default)]
struct Framer {
    header: Vec<u8>,
    skip: usize,
}

impl Framer {
    /// The type bytes of the messages whose header completes in `bytes`.
    fn feed(&mut self, mut bytes: &[u8], types: &mut Vec<u8>) -> anyhow::Result<()> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (5 - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            let [kind, a, b, c, d] = self.header[..] else {
                continue;
            };
            let length = u32::from_be_bytes([a, b, c, d]);
            ensure!(
                (4..=MAX_MESSAGE_BYTES).contains(&length),
                "message {:?} has impossible length {length}: framing lost",
                char::from(kind)
            );
            self.skip = usize::try_from(length - 4)?;
            types.push(kind);
            self.header.clear();
        }
        Ok(())
    }
}

/// What the proxy reads of the traffic it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plaintext, framing followed, ReadyForQuery counted.
    Protocol,
    /// Bytes carried as they are (TLS included), client flights counted.
    Passthrough,
}

/// A loopback TCP proxy to one PostgreSQL server that counts round trips and can delay
/// every forwarded chunk.
pub struct Proxy {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    /// Added latency per direction, in milliseconds; can change between passes.
    pub delay_ms: Arc<AtomicU64>,
}

impl Proxy {
    pub async fn start(upstream: (String, u16), mode: Mode) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Self {
            addr: listener.local_addr()?,
            counters: Arc::default(),
            delay_ms: Arc::default(),
        };
        let (counters, delay_ms) = (proxy.counters.clone(), proxy.delay_ms.clone());
        tokio::spawn(async move {
            loop {
                let client = match listener.accept().await {
                    Ok((client, _)) => client,
                    Err(err) => {
                        eprintln!("proxy: accept failed: {err}");
                        return;
                    }
                };
                counters.connections.fetch_add(1, Ordering::SeqCst);
                let (counters, delay_ms, upstream) =
                    (counters.clone(), delay_ms.clone(), upstream.clone());
                tokio::spawn(async move {
                    let carried = match mode {
                        Mode::Protocol => carry(client, upstream, counters, delay_ms).await,
                        Mode::Passthrough => {
                            pass_through(client, upstream, counters, delay_ms).await
                        }
                    };
                    if let Err(err) = carried {
                        eprintln!("proxy: connection ended: {err:#}");
                    }
                });
            }
        });
        Ok(proxy)
    }
}

/// One client connection: the startup phase by hand (refusing encryption, so the
/// application talks plaintext that can be read), then both directions pumped and counted.
async fn carry(
    mut client: TcpStream,
    upstream: (String, u16),
    counters: Arc<Counters>,
    delay_ms: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let link = Link::open();
    let mut server = connect(&client, &upstream).await?;

    // Startup messages have no type byte: Int32 length, Int32 code, then the body.
    loop {
        let mut head = [0u8; 8];
        client.read_exact(&mut head).await?;
        let [a, b, c, d, e, f, g, h] = head;
        let length = usize::try_from(u32::from_be_bytes([a, b, c, d]))?;
        let code = u32::from_be_bytes([e, f, g, h]);
        ensure!(
            (8..=MAX_STARTUP_BYTES).contains(&length),
            "startup packet of {length} bytes"
        );
        let mut body = vec![0u8; length - 8];
        client.read_exact(&mut body).await?;
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            // "N": not supported here; the client goes on in plaintext (or gives up if
            // its sslmode demands TLS, which is why the app's URL says sslmode=disable).
            client.write_all(b"N").await?;
            continue;
        }
        server.write_all(&head).await?;
        server.write_all(&body).await?;
        break;
    }

    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();

    let up_counters = counters.clone();
    let mut up_framer = Framer::default();
    let mut types = Vec::new();
    let up = pump(
        client_read,
        server_write,
        link.up(&delay_ms),
        move |chunk| {
            types.clear();
            up_framer.feed(chunk, &mut types)?;
            if types.iter().any(|kind| matches!(kind, b'S' | b'Q')) {
                up_counters.sync_flushes.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        },
    );

    let mut down_framer = Framer::default();
    let mut types = Vec::new();
    // The first ReadyForQuery ends authentication: it answers no request.
    let mut started = false;
    let down = pump(
        server_read,
        client_write,
        link.down(&delay_ms),
        move |chunk| {
            types.clear();
            down_framer.feed(chunk, &mut types)?;
            for kind in &types {
                if *kind == b'Z' {
                    if started {
                        counters.ready_for_query.fetch_add(1, Ordering::SeqCst);
                    }
                    started = true;
                }
            }
            Ok(())
        },
    );
    let (up, down) = tokio::join!(up, down);
    up.context("client to server")?;
    down.context("server to client")
}

/// One carried connection's timing: a chunk is due `delay_ms` after it was read, and the
/// client's first bytes no earlier than three one-way delays after it connected (its SYN,
/// the SYN-ACK, then the bytes themselves: the handshake the kernel answered at once).
#[derive(Clone, Copy)]
struct Link {
    connected: tokio::time::Instant,
}

impl Link {
    fn open() -> Self {
        Self {
            connected: tokio::time::Instant::now(),
        }
    }

    fn up(self, delay_ms: &Arc<AtomicU64>) -> Due {
        Due {
            delay_ms: delay_ms.clone(),
            not_before_delays: Some((self.connected, 3)),
        }
    }

    fn down(self, delay_ms: &Arc<AtomicU64>) -> Due {
        Due {
            delay_ms: delay_ms.clone(),
            not_before_delays: None,
        }
    }
}

/// When a chunk read now is delivered.
struct Due {
    delay_ms: Arc<AtomicU64>,
    /// No chunk is delivered before this instant plus so many one-way delays.
    not_before_delays: Option<(tokio::time::Instant, u32)>,
}

impl Due {
    fn of_chunk_read_now(&self) -> tokio::time::Instant {
        let delay = Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
        let due = tokio::time::Instant::now() + delay;
        match self.not_before_delays {
            Some((from, delays)) => due.max(from + delay * delays),
            None => due,
        }
    }
}

/// Opens the proxy's side of a connection to the server.
async fn connect(client: &TcpStream, upstream: &(String, u16)) -> anyhow::Result<TcpStream> {
    client.set_nodelay(true)?;
    let server = TcpStream::connect((upstream.0.as_str(), upstream.1))
        .await
        .context("connecting to PostgreSQL")?;
    server.set_nodelay(true)?;
    Ok(server)
}

/// Passthrough: both directions carried untouched; a client chunk that follows a delivery
/// to the client (or is the first) starts a flight.
async fn pass_through(
    client: TcpStream,
    upstream: (String, u16),
    counters: Arc<Counters>,
    delay_ms: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let link = Link::open();
    let server = connect(&client, &upstream).await?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Whether the client has received something since it last sent: set on delivery to
    // the client, not on reading from the server, so a request pipelined behind answers
    // still on the way belongs to the same flight.
    let answered = Arc::new(AtomicBool::new(true));
    let flights = (counters.clone(), answered.clone());
    let up = pump(client_read, server_write, link.up(&delay_ms), move |_| {
        if flights.1.swap(false, Ordering::SeqCst) {
            flights.0.client_flights.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    });
    let down = pump_noting(
        server_read,
        client_write,
        link.down(&delay_ms),
        |_| Ok(()),
        Some(answered),
    );
    let (up, down) = tokio::join!(up, down);
    up.context("client to server")?;
    down.context("server to client")
}

/// Copies `from` to `to`, letting `inspect` see every chunk as it arrives and delivering
/// it when `due` says. Chunks are queued with their due time rather than slept on in the
/// reader, so the delay is latency (each chunk late by D), not a rate limit.
async fn pump(
    from: impl AsyncRead + Unpin,
    to: impl AsyncWrite + Unpin + Send + 'static,
    due: Due,
    inspect: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    pump_noting(from, to, due, inspect, None).await
}

/// [`pump`], setting `delivered` each time a chunk reaches `to`.
async fn pump_noting(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin + Send + 'static,
    due: Due,
    mut inspect: impl FnMut(&[u8]) -> anyhow::Result<()>,
    delivered: Option<Arc<AtomicBool>>,
) -> anyhow::Result<()> {
    let (queue, mut queued) = mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = queued.recv().await {
            // Tokio's timer rounds up to the next millisecond: an undelayed chunk must
            // not meet it at all.
            if at > tokio::time::Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            to.write_all(&chunk).await?;
            if let Some(delivered) = &delivered {
                delivered.store(true, Ordering::SeqCst);
            }
        }
        to.shutdown().await
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        let chunk = &buffer[..n];
        inspect(chunk)?;
        if queue
            .send((due.of_chunk_read_now(), chunk.to_vec()))
            .is_err()
        {
            break;
        }
    }
    drop(queue);
    writer.await??;
    Ok(())
}

/// `url` pointed at the proxy, in plaintext (the proxy must read the protocol).
pub fn through_proxy(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("the database URL must be a postgres:// URL for the proxy");
    };
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority
        .rsplit_once('@')
        .map_or(String::new(), |(user, _)| format!("{user}@"));
    let (database, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            !pair.is_empty() && !matches!(key, "sslmode" | "host" | "port" | "channel_binding")
        })
        .collect();
    params.push("sslmode=disable");
    Ok(format!(
        "{scheme}://{user}{proxy}/{database}?{}",
        params.join("&")
    ))
}

/// Host and port of the server behind `url`.
pub fn upstream(url: &str) -> anyhow::Result<(String, u16)> {
    dev_server::postgres::host_and_port(url).context("the proxy needs a TCP host")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of `kind` with `body`, framed as on the wire.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
        let mut out = vec![kind];
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn framing_survives_reads_of_any_size() -> anyhow::Result<()> {
        let stream = [
            message(b'P', b"\0SELECT 1\0\0\0"),
            message(b'B', &[0; 12]),
            message(b'E', &[0; 5]),
            message(b'S', &[]),
        ]
        .concat();
        for size in 1..=stream.len() {
            let (mut framer, mut types) = (Framer::default(), Vec::new());
            for chunk in stream.chunks(size) {
                framer.feed(chunk, &mut types)?;
            }
            assert_eq!(types, b"PBES", "reads of {size} bytes");
        }
        let mut types = Vec::new();
        assert!(Framer::default().feed(b"Z\0\0\0\x02", &mut types).is_err());
        Ok(())
    }

    #[test]
    fn the_app_url_points_at_the_proxy_in_plaintext() -> anyhow::Result<()> {
        let proxy: SocketAddr = "127.0.0.1:7000".parse()?;
        assert_eq!(
            through_proxy(
                "postgres://u:p@db.example.com:5432/app?sslmode=verify-full&application_name=x",
                proxy
            )?,
            "postgres://u:p@127.0.0.1:7000/app?application_name=x&sslmode=disable"
        );
        assert_eq!(
            through_proxy("postgresql://localhost/app", proxy)?,
            "postgresql://127.0.0.1:7000/app?sslmode=disable"
        );
        Ok(())
    }

    /// Against a scripted server: an SSLRequest is answered "N" by the proxy and never
    /// reaches the server, the startup message is forwarded whole, the startup's
    /// ReadyForQuery is not counted, and a later Sync and its ReadyForQuery are.
    #[tokio::test]
    async fn startup_is_not_counted_and_requests_are() -> anyhow::Result<()> {
        let server = TcpListener::bind("127.0.0.1:0").await?;
        let port = server.local_addr()?.port();
        let startup = {
            let params = b"user\0postgres\0\0";
            let length = u32::try_from(8 + params.len())?;
            [&length.to_be_bytes()[..], &196_608u32.to_be_bytes(), params].concat()
        };
        let expected = startup.clone();
        let scripted = tokio::spawn(async move {
            let (mut socket, _) = server.accept().await?;
            let mut got = vec![0; expected.len()];
            socket.read_exact(&mut got).await?;
            anyhow::ensure!(got == expected, "server got {got:?}");
            let ready = message(b'Z', b"I");
            socket
                .write_all(&[message(b'R', &[0; 4]), ready.clone()].concat())
                .await?;
            let mut sync = [0; 5];
            socket.read_exact(&mut sync).await?;
            anyhow::ensure!(sync == *b"S\0\0\0\x04", "server got {sync:?}");
            socket.write_all(&ready).await?;
            anyhow::Ok(())
        });

        let proxy = Proxy::start(("127.0.0.1".into(), port), Mode::Protocol).await?;
        let mut client = TcpStream::connect(proxy.addr).await?;
        let ssl_request = [8u32.to_be_bytes(), SSL_REQUEST.to_be_bytes()].concat();
        client.write_all(&ssl_request).await?;
        let mut answer = [0; 1];
        client.read_exact(&mut answer).await?;
        assert_eq!(&answer, b"N");
        client.write_all(&startup).await?;
        let mut reply = [0; 9 + 6];
        client.read_exact(&mut reply).await?;
        assert_eq!(proxy.counters.snapshot().ready_for_query, 0);

        client.write_all(&message(b'S', &[])).await?;
        let mut ready = [0; 6];
        client.read_exact(&mut ready).await?;
        scripted.await??;
        let seen = proxy.counters.snapshot();
        assert_eq!(
            (seen.connections, seen.ready_for_query, seen.sync_flushes),
            (1, 1, 1)
        );
        Ok(())
    }

    /// Passthrough: bytes arrive untouched; a send that follows an answer starts a flight,
    /// a send pipelined behind one still unanswered does not, and the handshake counts one.
    #[tokio::test]
    async fn passthrough_counts_flights_and_the_handshake() -> anyhow::Result<()> {
        let server = TcpListener::bind("127.0.0.1:0").await?;
        let port = server.local_addr()?.port();
        let scripted = tokio::spawn(async move {
            let (mut socket, _) = server.accept().await?;
            let mut got = [0; 1];
            socket.read_exact(&mut got).await?;
            anyhow::ensure!(got == *b"a", "server got {got:?}");
            socket.write_all(b"x").await?;
            // Two sends, answered once both are in.
            let mut got = [0; 2];
            socket.read_exact(&mut got).await?;
            anyhow::ensure!(got == *b"bc", "server got {got:?}");
            socket.write_all(b"y").await?;
            anyhow::Ok(())
        });

        let proxy = Proxy::start(("127.0.0.1".into(), port), Mode::Passthrough).await?;
        let mut client = TcpStream::connect(proxy.addr).await?;
        let mut answer = [0; 1];
        client.write_all(b"a").await?;
        client.read_exact(&mut answer).await?;
        assert_eq!(&answer, b"x");
        client.write_all(b"b").await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(b"c").await?;
        client.read_exact(&mut answer).await?;
        assert_eq!(&answer, b"y");
        scripted.await??;
        let seen = proxy.counters.snapshot();
        assert_eq!((seen.connections, seen.client_flights), (1, 2));
        assert_eq!(seen.link_round_trips(), 3);
        Ok(())
    }
}
