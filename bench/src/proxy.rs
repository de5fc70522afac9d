//! A loopback TCP proxy between an application and PostgreSQL that counts database round
//! trips and can add latency each way, as a network link would. Two modes:
//!
//! - [`Mode::Protocol`] reads the protocol (the application talks to it in plaintext,
//!   `sslmode=disable`): it follows the message framing and counts the server's
//!   ReadyForQuery messages after startup, one per round trip a statement takes, and the
//!   client's reads that hold a Sync or a simple Query (the requests they answer).
//! - [`Mode::Passthrough`] carries TLS untouched and counts the client's flights: each time
//!   the client sends after it has received something (or first), one round trip begins.
//!   With the TCP handshake, which the proxy charges by holding a connection's first bytes
//!   for one round trip, that is every round trip a connection takes, from the first SYN.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// What the proxy saw, over every connection it carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub connections: u64,
    /// ReadyForQuery messages after each connection's startup: one per round trip.
    pub ready_for_query: u64,
    /// Reads from the client that held a Sync or a simple Query (on loopback one write
    /// arrives as one read).
    pub sync_flushes: u64,
    /// Passthrough: the client's flights, each the start of a round trip.
    pub client_flights: u64,
}

impl Snapshot {
    /// Passthrough: the round trips of the connections seen, TCP handshakes included.
    pub fn link_round_trips(&self) -> u64 {
        self.connections + self.client_flights
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

#[derive(Default)]
pub struct Counters(Mutex<Snapshot>);

impl Counters {
    pub fn snapshot(&self) -> Snapshot {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, what: impl FnOnce(&mut Snapshot)) {
        what(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Splits one direction's byte stream into typed messages (`type byte, Int32 length`
/// including itself, body), across reads of any size; bodies are skipped, not buffered.
/// The client's first message, the startup message, has no type byte.
#[derive(Default)]
struct Framer {
    header: Vec<u8>,
    skip: usize,
    typed: bool,
}

impl Framer {
    /// The type bytes of the messages whose header completes in `bytes`.
    fn feed(&mut self, mut bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut types = Vec::new();
        while !bytes.is_empty() {
            let size = 4 + usize::from(self.typed);
            let n = match self.skip {
                0 => (size - self.header.len()).min(bytes.len()),
                skip => skip.min(bytes.len()),
            };
            match self.skip {
                0 => self.header.extend_from_slice(&bytes[..n]),
                _ => self.skip -= n,
            }
            bytes = &bytes[n..];
            if self.header.len() < size {
                continue;
            }
            let (kind, length) = self.header.split_at(size - 4);
            let length = u32::from_be_bytes(length.try_into()?);
            // PostgreSQL refuses messages over 1 GB: beyond, the framing is lost.
            ensure!(
                (4..=1 << 30).contains(&length),
                "length {length}: framing lost"
            );
            types.extend(kind);
            (self.skip, self.typed) = (usize::try_from(length - 4)?, true);
            self.header.clear();
        }
        Ok(types)
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
        let (counters, delay_ms) = (Arc::<Counters>::default(), Arc::<AtomicU64>::default());
        let addr = listener.local_addr()?;
        let proxy = Self {
            addr,
            counters: counters.clone(),
            delay_ms: delay_ms.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counters.count(|seen| seen.connections += 1);
                let link = (counters.clone(), delay_ms.clone(), upstream.clone());
                tokio::spawn(async move {
                    if let Err(err) = carry(client, mode, link).await {
                        eprintln!("proxy: connection ended: {err:#}");
                    }
                });
            }
        });
        Ok(proxy)
    }
}

/// One client connection, both directions pumped and counted.
async fn carry(
    client: TcpStream,
    mode: Mode,
    (counters, delay_ms, (host, port)): (Arc<Counters>, Arc<AtomicU64>, (String, u16)),
) -> anyhow::Result<()> {
    let connected = Instant::now();
    let server = TcpStream::connect((host.as_str(), port)).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Whether the client has received something since it last sent: set on delivery to
    // the client, not on reading from the server, so a request pipelined behind answers
    // still on the way belongs to the same flight.
    let answered = Arc::new(AtomicBool::new(true));
    let (mut up_framer, mut down_framer) = (Framer::default(), Framer::default());
    down_framer.typed = true;
    // The first ReadyForQuery ends authentication: it answers no request.
    let mut started = false;
    let (up_counters, client_answered) = (counters.clone(), answered.clone());
    let up = pump(
        (client_read, server_write),
        (&delay_ms, Some(connected)),
        None,
        |chunk| {
            if mode == Mode::Passthrough {
                if client_answered.swap(false, SeqCst) {
                    up_counters.count(|seen| seen.client_flights += 1);
                }
            } else if up_framer
                .feed(chunk)?
                .iter()
                .any(|kind| matches!(kind, b'S' | b'Q'))
            {
                up_counters.count(|seen| seen.sync_flushes += 1);
            }
            Ok(())
        },
    );
    let down = pump(
        (server_read, client_write),
        (&delay_ms, None),
        Some(answered),
        |chunk| {
            if mode == Mode::Protocol {
                for _ in down_framer
                    .feed(chunk)?
                    .iter()
                    .filter(|kind| **kind == b'Z')
                {
                    if std::mem::replace(&mut started, true) {
                        counters.count(|seen| seen.ready_for_query += 1);
                    }
                }
            }
            Ok(())
        },
    );
    let (up, down) = tokio::join!(up, down);
    up.context("client to server")?;
    down.context("server to client")
}

/// Copies `from` to `to`, letting `inspect` see every chunk as it arrives and delivering it
/// `delay_ms` later (with `connected`, no earlier than three one-way delays after it: the
/// SYN, the SYN-ACK, then the bytes, the handshake the kernel answered at once), then
/// setting `delivered`. Chunks are queued with their due time rather than slept on in the
/// reader, so the delay is latency (each chunk late by D), not a rate limit.
async fn pump(
    (mut from, mut to): (
        impl AsyncRead + Unpin,
        impl AsyncWrite + Unpin + Send + 'static,
    ),
    (delay_ms, connected): (&AtomicU64, Option<Instant>),
    delivered: Option<Arc<AtomicBool>>,
    mut inspect: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = queued.recv().await {
            // Tokio's timer rounds up to the next millisecond: an undelayed chunk must not
            // meet it at all.
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            to.write_all(&chunk).await?;
            if let Some(delivered) = &delivered {
                delivered.store(true, SeqCst);
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
        inspect(&buffer[..n])?;
        let delay = Duration::from_millis(delay_ms.load(SeqCst));
        let handshake = connected.map(|connected| connected + delay * 3);
        let due = handshake
            .into_iter()
            .fold(Instant::now() + delay, Instant::max);
        if queue.send((due, buffer[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(queue);
    writer.await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message of `kind` with `body`, framed as on the wire.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
        [&[kind][..], &length.to_be_bytes(), body].concat()
    }

    /// A startup message: no type byte.
    fn startup() -> Vec<u8> {
        let params = b"user\0postgres\0\0";
        let length = u32::try_from(8 + params.len()).unwrap_or(u32::MAX);
        [&length.to_be_bytes()[..], &196_608u32.to_be_bytes(), params].concat()
    }

    #[test]
    fn framing_survives_reads_of_any_size() -> anyhow::Result<()> {
        let sql = message(b'P', b"\0SELECT 1\0\0\0");
        let stream = [startup(), sql, message(b'E', &[0; 5]), message(b'S', &[])].concat();
        for size in 1..=stream.len() {
            let mut framer = Framer::default();
            let mut types = Vec::new();
            for chunk in stream.chunks(size) {
                types.extend(framer.feed(chunk)?);
            }
            assert_eq!(types, b"PES", "reads of {size} bytes");
        }
        assert!(
            Framer::default().feed(b"\0\0\0\x02").is_err(),
            "a length under 4"
        );
        Ok(())
    }

    /// A scripted server behind a proxy in `mode`: per turn, the client sends its bytes
    /// one read at a time, the server checks them and answers, and the client reads that.
    /// The counters once the client read every answer.
    async fn scripted(mode: Mode, turns: &[(&[u8], &[u8])]) -> anyhow::Result<Snapshot> {
        let server = TcpListener::bind("127.0.0.1:0").await?;
        let port = server.local_addr()?.port();
        let proxy = Proxy::start(("127.0.0.1".into(), port), mode).await?;
        let mut client = TcpStream::connect(proxy.addr).await?;
        let (mut socket, _) = server.accept().await?;
        for (sent, reply) in turns {
            for byte in sent.iter() {
                client.write_all(&[*byte]).await?;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let mut got = vec![0; sent.len()];
            socket.read_exact(&mut got).await?;
            ensure!(got == *sent, "the server got {got:?}");
            socket.write_all(reply).await?;
            let mut got = vec![0; reply.len()];
            client.read_exact(&mut got).await?;
            ensure!(got == *reply, "the client got {got:?}");
        }
        Ok(proxy.counters.snapshot())
    }

    /// The startup's ReadyForQuery answers no request; a Sync and its ReadyForQuery are one
    /// round trip, and so is a pipelined Parse/Sync.
    #[tokio::test]
    async fn protocol_counts_requests_not_the_startup() -> anyhow::Result<()> {
        let (ready, sync) = (message(b'Z', b"I"), message(b'S', &[]));
        let auth_ok = [message(b'R', &[0; 4]), ready.clone()].concat();
        let pipelined = [message(b'P', b"\0SELECT 1\0\0\0"), sync.clone()].concat();
        let answer = [message(b'1', &[]), ready.clone()].concat();
        let turns: [(&[u8], &[u8]); 3] = [
            (&startup(), &auth_ok),
            (&sync, &ready),
            (&pipelined, &answer),
        ];
        let seen = scripted(Mode::Protocol, &turns).await?;
        let counted = (seen.connections, seen.ready_for_query, seen.sync_flushes);
        assert_eq!(counted, (1, 2, 2));
        Ok(())
    }

    /// Passthrough: a send that follows an answer starts a flight, the sends pipelined
    /// behind it do not, and the handshake counts one more round trip.
    #[tokio::test]
    async fn passthrough_counts_flights_and_the_handshake() -> anyhow::Result<()> {
        let turns: [(&[u8], &[u8]); 2] = [(b"a", b"x"), (b"bcd", b"y")];
        let seen = scripted(Mode::Passthrough, &turns).await?;
        assert_eq!((seen.connections, seen.client_flights), (1, 2));
        assert_eq!(seen.link_round_trips(), 3);
        Ok(())
    }
}
