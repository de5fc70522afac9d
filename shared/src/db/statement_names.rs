//! Prepared statements named by what they are. tokio-postgres names each statement it
//! prepares `s<n>`, from a counter that starts at zero in every process, and offers no way
//! to choose a name; two functions' plans therefore use the same names for different SQL.
//! Behind a pooler that does not keep named statements per client (PgBouncer before 1.21
//! in transaction mode, or a later one with `max_prepared_statements = 0`), a client's Bind
//! can reach a server connection where another process prepared *its* `s0`, and when the
//! parameter types fit PostgreSQL runs that one: a read becomes a delete.
//!
//! [`StatementNames`] sits between the driver and the socket (above TLS) and renames every
//! statement in the messages the driver sends: a Parse gets `todo_` and 160 bits of the
//! SHA-256 of its SQL text and parameter types, and each later Bind, Describe and Close the
//! name its Parse got. Why that makes running the wrong statement impossible:
//! - one name is one statement, in every process, function and release: a Bind that lands
//!   on another server connection finds that very statement there (prepared by anyone with
//!   the same text and types), or none at all, and "does not exist" is what
//!   [`super::pool`] answers by running the statement unnamed (the fallback);
//! - a Parse that lands where its name already exists meets that same statement and gets
//!   "already exists", which turns the connection to unnamed statements the same way;
//! - with a pooler that keeps statements per client (PgBouncer 1.21+, Neon) or without a
//!   pooler, names are only ever compared with the same client's own, as before;
//! - the same statement prepared twice on one connection (tokio-postgres allows it) gets
//!   `_1`, `_2`, … after the name of its second and later copies: still a function of the
//!   statement, never the name of another.
//!
//! Nothing else changes: the driver still believes its statements are `s<n>`, every other
//! message passes through untouched, and the messages keep their order and framing, so a
//! request is still one round trip of a statement planned once per connection.

use std::collections::{HashMap, HashSet};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsStream};

/// Every statement name starts with this (`pg_prepared_statements` shows whose they are).
const PREFIX: &str = "todo_";
/// Bytes of SHA-256 kept in a name: 160 bits, 40 hex digits, so a name stays well within
/// PostgreSQL's 63 bytes.
const DIGEST_BYTES: usize = 20;
/// The codes of the untyped requests that precede the startup message (SSLRequest,
/// GSSENCRequest): after them the driver still speaks untyped.
const NEGOTIATION_CODES: [u32; 2] = [80_877_103, 80_877_104];
/// Rewritten bytes held back before a write waits for the socket.
const HIGH_WATER: usize = 64 * 1024;

/// A byte stream to PostgreSQL whose outgoing statement names are derived from the
/// statements themselves (see the module's documentation).
pub struct StatementNames<S> {
    inner: S,
    /// Bytes from the driver that do not make a whole message yet.
    incoming: Vec<u8>,
    /// Whole messages, renamed, not yet taken by `inner`; `outgoing[sent..]` is left.
    outgoing: Vec<u8>,
    sent: usize,
    /// Whether the startup message has gone: from then on every message has a type byte.
    started: bool,
    names: Names,
}

impl<S> StatementNames<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            sent: 0,
            started: false,
            names: Names::default(),
        }
    }

    /// The stream beneath, for TLS to start on: only between messages, with everything
    /// sent, and before the startup message (which then goes through the TLS stream's own
    /// layer).
    pub fn into_inner(self) -> io::Result<S> {
        if self.started || !self.incoming.is_empty() || self.sent < self.outgoing.len() {
            return Err(io::Error::other(
                "TLS can only start before the startup message, with nothing left to send",
            ));
        }
        Ok(self.inner)
    }

    /// Moves every whole message from `incoming` to `outgoing`, renamed.
    fn translate(&mut self) -> io::Result<()> {
        let mut at = 0;
        while let Some(length) = self.next_length(at)? {
            let Some(message) = self.incoming.get(at..at + length) else {
                break;
            };
            if !self.started {
                // Untyped: its length, then a code; anything but a negotiation request is the
                // startup message itself (or a cancel request, the last of its connection).
                let code = message.get(4..8).map(read_u32).unwrap_or_default();
                self.started = !NEGOTIATION_CODES.contains(&code);
                self.outgoing.extend_from_slice(message);
            } else {
                let renamed = rename(&mut self.names, message)?;
                self.outgoing
                    .extend_from_slice(renamed.as_deref().unwrap_or(message));
            }
            at += length;
        }
        self.incoming.drain(..at);
        Ok(())
    }

    /// The length of the message starting at `at` in `incoming`, once its header is there.
    fn next_length(&self, at: usize) -> io::Result<Option<usize>> {
        // A typed message has its type byte before the length; the length counts itself.
        let header = usize::from(self.started);
        let Some(length) = self.incoming.get(at + header..at + header + 4) else {
            return Ok(None);
        };
        let length = read_u32(length) as usize;
        if length < 4 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a frontend message shorter than its own length",
            ));
        }
        Ok(Some(header + length))
    }
}

impl<S: AsyncWrite + Unpin> StatementNames<S> {
    /// Hands `outgoing` to the stream beneath, as far as it takes it now.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let unsent = self.outgoing.get(self.sent..).unwrap_or_default();
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, unsent))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += written;
        }
        self.outgoing.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

/// The statements a connection has prepared: the driver's name of each, and ours.
#[derive(Default)]
struct Names {
    ours: HashMap<Vec<u8>, Vec<u8>>,
    /// Our names of the statements prepared and not closed.
    live: HashSet<Vec<u8>>,
}

impl Names {
    /// Our name for the statement the driver prepares as `driver`, whose derived name is
    /// `derived`: that, or (another copy of it is live here) that with the first free
    /// `_<n>` after it.
    fn prepare(&mut self, driver: &[u8], derived: Vec<u8>) -> Vec<u8> {
        let mut ours = derived.clone();
        let mut copy = 0u32;
        while self.live.contains(&ours) {
            copy += 1;
            ours = [&derived[..], format!("_{copy}").as_bytes()].concat();
        }
        self.live.insert(ours.clone());
        self.ours.insert(driver.to_vec(), ours.clone());
        ours
    }

    fn get(&self, driver: &[u8]) -> Option<&Vec<u8>> {
        self.ours.get(driver)
    }

    fn close(&mut self, driver: &[u8]) -> Option<Vec<u8>> {
        let ours = self.ours.remove(driver)?;
        self.live.remove(&ours);
        Some(ours)
    }
}

/// `message` (one whole typed frontend message) with its statement name replaced, if it
/// carries one; `None` when it stays as it is.
fn rename(names: &mut Names, message: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let (Some(&tag), Some(body)) = (message.first(), message.get(5..)) else {
        return Ok(None);
    };
    let renamed_body = match tag {
        // Parse: name, query, parameter count and types.
        b'P' => {
            let (name, rest) = c_string(body)?;
            if name.is_empty() {
                return Ok(None);
            }
            let (query, types) = c_string(rest)?;
            let ours = names.prepare(name, derived_name(query, types));
            [&ours[..], &[0], rest].concat()
        }
        // Bind: portal, statement, then the values.
        b'B' => {
            let (portal, rest) = c_string(body)?;
            let (statement, values) = c_string(rest)?;
            let Some(ours) = names.get(statement) else {
                return Ok(None);
            };
            [portal, &[0], ours, &[0], values].concat()
        }
        // Describe and Close: 'S' and a statement, or 'P' and a portal.
        b'D' | b'C' if body.first() == Some(&b'S') => {
            let (statement, rest) = c_string(body.get(1..).unwrap_or_default())?;
            let ours = if tag == b'C' {
                names.close(statement)
            } else {
                names.get(statement).cloned()
            };
            let Some(ours) = ours else {
                return Ok(None);
            };
            [&b"S"[..], &ours, &[0], rest].concat()
        }
        _ => return Ok(None),
    };
    let length = u32::try_from(renamed_body.len() + 4)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a message over 4 GiB"))?;
    Ok(Some(
        [&[tag][..], &length.to_be_bytes(), &renamed_body].concat(),
    ))
}

/// The name of the statement whose Parse carries `query` and then `types` (the parameter
/// count and type OIDs, as sent): a function of both alone.
fn derived_name(query: &[u8], types: &[u8]) -> Vec<u8> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(query);
    // The query ends at its NUL, so it and the types cannot run into each other.
    context.update(&[0]);
    context.update(types);
    let digest = context.finish();
    let mut name = PREFIX.as_bytes().to_vec();
    for byte in digest.as_ref().iter().take(DIGEST_BYTES) {
        name.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
    name
}

/// A NUL-terminated string at the start of `bytes`, and what follows its NUL.
fn c_string(bytes: &[u8]) -> io::Result<(&[u8], &[u8])> {
    let end = bytes.iter().position(|byte| *byte == 0).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a frontend message without its NUL",
        )
    })?;
    let (string, rest) = bytes.split_at(end);
    Ok((string, rest.get(1..).unwrap_or_default()))
}

fn read_u32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0, |value, byte| (value << 8) | u32::from(*byte))
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StatementNames<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.outgoing.len() - this.sent >= HIGH_WATER {
            ready!(this.poll_send(cx))?;
        }
        this.incoming.extend_from_slice(buf);
        this.translate()?;
        // What the socket does not take now goes with the next write, flush or read; a
        // message is never held back waiting for the next one.
        if let Poll::Ready(Err(err)) = this.poll_send(cx) {
            return Poll::Ready(Err(err));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for StatementNames<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A request written without a flush (the SSLRequest) must go before its answer is
        // awaited.
        if let Poll::Ready(Err(err)) = this.poll_send(cx) {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: TlsStream + AsyncRead + AsyncWrite + Unpin> TlsStream for StatementNames<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(tag: u8, body: &[u8]) -> Vec<u8> {
        let length = u32::try_from(body.len() + 4).unwrap();
        [&[tag][..], &length.to_be_bytes(), body].concat()
    }

    fn parse(name: &str, query: &str, types: &[u32]) -> Vec<u8> {
        let mut body = [name.as_bytes(), &[0], query.as_bytes(), &[0]].concat();
        body.extend_from_slice(&u16::try_from(types.len()).unwrap().to_be_bytes());
        for oid in types {
            body.extend_from_slice(&oid.to_be_bytes());
        }
        typed(b'P', &body)
    }

    fn bind(statement: &str) -> Vec<u8> {
        typed(
            b'B',
            &[&[0][..], statement.as_bytes(), &[0, 0, 0, 0, 0, 0, 0]].concat(),
        )
    }

    fn statement_message(tag: u8, statement: &str) -> Vec<u8> {
        typed(tag, &[&b"S"[..], statement.as_bytes(), &[0]].concat())
    }

    /// What `messages`, written in pieces of `chunk` bytes after a startup message, become.
    fn sent(messages: &[Vec<u8>], chunk: usize) -> Vec<u8> {
        let startup = [
            &12u32.to_be_bytes()[..],
            &196_608u32.to_be_bytes(),
            b"u\0\0\0",
        ]
        .concat();
        let mut names = StatementNames::new(Vec::<u8>::new());
        let all = [startup.clone(), messages.concat()].concat();
        for piece in all.chunks(chunk) {
            names.incoming.extend_from_slice(piece);
            names.translate().unwrap();
        }
        assert!(names.incoming.is_empty());
        assert_eq!(names.outgoing[..startup.len()], startup[..]);
        names.outgoing[startup.len()..].to_vec()
    }

    fn name_of(query: &str, types: &[u32]) -> String {
        let parsed = parse("", query, types);
        let (_, rest) = c_string(&parsed[5..]).unwrap();
        let (query, types) = c_string(rest).unwrap();
        String::from_utf8(derived_name(query, types)).unwrap()
    }

    #[test]
    fn a_statement_is_named_by_its_text_and_types_and_every_use_follows() {
        let ours = name_of("SELECT $1", &[20]);
        for chunk in [1, 3, 1000] {
            let out = sent(
                &[
                    parse("s0", "SELECT $1", &[20]),
                    statement_message(b'D', "s0"),
                    typed(b'S', &[]),
                    bind("s0"),
                    typed(b'E', &[0, 0, 0, 0, 0]),
                    statement_message(b'C', "s0"),
                ],
                chunk,
            );
            assert_eq!(
                out,
                [
                    parse(&ours, "SELECT $1", &[20]),
                    statement_message(b'D', &ours),
                    typed(b'S', &[]),
                    bind(&ours),
                    typed(b'E', &[0, 0, 0, 0, 0]),
                    statement_message(b'C', &ours),
                ]
                .concat(),
                "written {chunk} bytes at a time"
            );
        }
        assert!(ours.starts_with("todo_") && ours.len() == 45, "{ours}");
    }

    #[test]
    fn the_same_statement_has_the_same_name_in_every_process_and_others_differ() {
        // The driver's own counter differs between processes; the name does not.
        assert_eq!(
            sent(&[parse("s0", "SELECT $1", &[20])], 64),
            sent(&[parse("s7", "SELECT $1", &[20])], 64)
        );
        let names = [
            name_of("SELECT $1", &[20]),
            name_of("SELECT $1", &[25]),
            name_of("SELECT $1 ", &[20]),
            name_of("DELETE FROM t WHERE id = $1", &[20]),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_second_copy_on_one_connection_is_named_apart_until_the_first_is_closed() {
        let ours = name_of("SELECT $1", &[20]);
        let out = sent(
            &[
                parse("s0", "SELECT $1", &[20]),
                parse("s1", "SELECT $1", &[20]),
                bind("s1"),
                statement_message(b'C', "s0"),
                parse("s2", "SELECT $1", &[20]),
            ],
            7,
        );
        assert_eq!(
            out,
            [
                parse(&ours, "SELECT $1", &[20]),
                parse(&format!("{ours}_1"), "SELECT $1", &[20]),
                bind(&format!("{ours}_1")),
                statement_message(b'C', &ours),
                parse(&ours, "SELECT $1", &[20]),
            ]
            .concat()
        );
    }

    #[test]
    fn unnamed_statements_portals_and_other_messages_pass_untouched() {
        let messages = [
            parse("", "SELECT 1", &[]),
            bind(""),
            typed(b'D', b"Pp1\0"),
            typed(b'C', b"Pp1\0"),
            typed(b'Q', b"SELECT 1\0"),
            typed(b'S', &[]),
        ];
        assert_eq!(sent(&messages, 5), messages.concat());
    }

    #[test]
    fn negotiation_requests_stay_untyped_until_the_startup_message() {
        let ssl_request = [&8u32.to_be_bytes()[..], &80_877_103u32.to_be_bytes()].concat();
        let mut names = StatementNames::new(Vec::<u8>::new());
        names.incoming.extend_from_slice(&ssl_request);
        names.translate().unwrap();
        assert!(!names.started);
        assert_eq!(names.outgoing, ssl_request);
    }

    #[test]
    fn a_malformed_message_is_an_error_not_a_panic() {
        let mut names = StatementNames::new(Vec::<u8>::new());
        names.started = true;
        names.incoming.extend_from_slice(&[b'P', 0, 0, 0, 2]);
        assert!(names.translate().is_err());
        let mut names = StatementNames::new(Vec::<u8>::new());
        names.started = true;
        names.incoming.extend_from_slice(&typed(b'P', b"s0"));
        assert!(names.translate().is_err());
    }
}
