//! Opening a connection: the socket (TCP or Unix), then tokio-postgres's own startup, TLS
//! and authentication over it, with every message the driver sends passing through
//! [`StatementNames`]. tokio-postgres's `Config::connect` opens its socket itself and gives
//! no way beneath a plaintext connection, so the socket is opened here, as it would open it:
//! each host in order (with its `hostaddr`), each address a name resolves to, the connect
//! timeout, `TCP_NODELAY` and keepalives.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::Host;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Connection};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::statement_names::StatementNames;

/// The plaintext stream, and what TLS over it is, each beneath the statement names.
pub type PlainStream = StatementNames<Socket>;
pub type TlsSocket = StatementNames<<MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream>;

/// A connection's driving half, to be spawned.
pub type Driver = Connection<PlainStream, TlsSocket>;

/// Why no connection could be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to {target}: {source}")]
    Socket {
        target: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

/// Connects as `config` says, TLS through `tls`: the first host (in order) that answers.
pub async fn connect(
    config: &Config,
    tls: &MakeRustlsConnect,
) -> Result<(Client, Driver), ConnectError> {
    let hosts = config.get_hosts();
    let addresses = config.get_hostaddrs();
    let count = hosts.len().max(addresses.len());
    let mut last_error = None;
    for index in 0..count {
        let port = config
            .get_ports()
            .get(index)
            .or_else(|| config.get_ports().first())
            .copied()
            .unwrap_or(5432);
        // TLS is verified against the host name; the socket goes to `hostaddr` when given.
        let host_name = match hosts.get(index) {
            Some(Host::Tcp(name)) => name.clone(),
            _ => String::new(),
        };
        let target = match (addresses.get(index), hosts.get(index)) {
            (Some(address), _) => Host::Tcp(address.to_string()),
            (None, Some(host)) => host.clone(),
            (None, None) => continue,
        };
        let attempt = async {
            let socket = open_socket(config, &target, port).await?;
            let Ok(tls) = MakeTlsConnect::<Socket>::make_tls_connect(&mut tls.clone(), &host_name);
            let connected = config
                .connect_raw(StatementNames::new(socket), NamedTls(tls))
                .await?;
            Ok::<_, ConnectError>(connected)
        };
        match attempt.await {
            Ok(connected) => return Ok(connected),
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(|| ConnectError::Socket {
        target: "the database".into(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "no host given"),
    }))
}

async fn open_socket(config: &Config, host: &Host, port: u16) -> Result<Socket, ConnectError> {
    let timeout = config.get_connect_timeout().copied();
    match host {
        Host::Tcp(name) => {
            let target = format!("{name}:{port}");
            let socket_error = |source| ConnectError::Socket {
                target: target.clone(),
                source,
            };
            let addresses = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(socket_error)?;
            let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address found");
            for address in addresses {
                match within(timeout, TcpStream::connect(address)).await {
                    Ok(stream) => {
                        configure_tcp(config, &stream).map_err(socket_error)?;
                        return Ok(Socket::Tcp(stream));
                    }
                    Err(err) => last_error = err,
                }
            }
            Err(socket_error(last_error))
        }
        Host::Unix(directory) => {
            let path = directory.join(format!(".s.PGSQL.{port}"));
            within(timeout, UnixStream::connect(&path))
                .await
                .map(Socket::Unix)
                .map_err(|source| ConnectError::Socket {
                    target: path.display().to_string(),
                    source,
                })
        }
    }
}

/// As tokio-postgres sets its sockets up: no Nagle delay (a request is one small write
/// answered at once), and the keepalives and user timeout the URL asks for.
fn configure_tcp(config: &Config, stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let socket = SockRef::from(stream);
    if let Some(timeout) = config.get_tcp_user_timeout() {
        socket.set_tcp_user_timeout(Some(*timeout))?;
    }
    if config.get_keepalives() {
        let mut keepalive = TcpKeepalive::new().with_time(config.get_keepalives_idle());
        if let Some(interval) = config.get_keepalives_interval() {
            keepalive = keepalive.with_interval(interval);
        }
        if let Some(retries) = config.get_keepalives_retries() {
            keepalive = keepalive.with_retries(retries);
        }
        socket.set_tcp_keepalive(&keepalive)?;
    }
    Ok(())
}

async fn within<T>(
    timeout: Option<Duration>,
    connect: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))?,
        None => connect.await,
    }
}

/// rustls over the socket beneath the statement names: the negotiation before TLS was
/// plaintext through them, and everything after goes through a new layer above TLS.
struct NamedTls(<MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect);

impl TlsConnect<PlainStream> for NamedTls {
    type Stream = TlsSocket;
    type Error = io::Error;
    type Future = BoxFuture<'static, io::Result<TlsSocket>>;

    fn connect(self, stream: PlainStream) -> Self::Future {
        Box::pin(async move {
            let socket = stream.into_inner()?;
            let tls = self.0.connect(socket).await?;
            Ok(StatementNames::new(tls))
        })
    }
}

/// A connection's socket.
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Socket::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Socket::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Socket::Unix(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Socket::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
