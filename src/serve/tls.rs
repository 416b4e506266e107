//! Optional TLS for both servers, from a PEM certificate chain and key
//! (`--tls-cert`, `--tls-key`).
//!
//! rustls with the ring provider (already in the build through pgwire) is
//! used directly, so tonic needs no TLS feature: the Flight SQL server gets
//! a stream of connections whose handshakes ran concurrently (a slow client
//! never holds up the others), and the PostgreSQL server hands the acceptor
//! to pgwire, which answers the client's SSLRequest.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use futures::Stream;
use pgwire::tokio::tokio_rustls::rustls::{self, ServerConfig};
use pgwire::tokio::tokio_rustls::{TlsAcceptor, server::TlsStream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// TLS settings of both servers.
#[derive(Clone)]
pub(crate) struct Tls {
    /// For gRPC: ALPN `h2`.
    flight: Arc<ServerConfig>,
    /// For PostgreSQL: no ALPN.
    pg: Arc<ServerConfig>,
}

impl From<Tls> for TlsAcceptor {
    fn from(t: Tls) -> Self {
        TlsAcceptor::from(t.pg)
    }
}

/// Reads the certificate chain and private key.
///
/// # Errors
/// Unreadable or invalid PEM files, a key that does not fit the certificate.
pub(crate) fn load(cert: &Path, key: &Path) -> anyhow::Result<Tls> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("invalid TLS certificate {}", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read TLS private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS key does not fit the certificate")?;
    let mut flight = config.clone();
    flight.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Tls {
        flight: Arc::new(flight),
        pg: Arc::new(config),
    })
}

/// A TLS connection tonic can serve.
pub(crate) struct TlsConn(TlsStream<TcpStream>);

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Accepted connections after their TLS handshake; failed handshakes are
/// logged and dropped.
pub(crate) fn incoming(
    listener: TcpListener,
    tls: Tls,
) -> impl Stream<Item = Result<TlsConn, io::Error>> {
    let acceptor = TlsAcceptor::from(tls.flight);
    let (tx, rx) = tokio::sync::mpsc::channel::<TlsConn>(64);
    tokio::spawn(async move {
        loop {
            let (socket, addr) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("Flight SQL: accept failed: {e}");
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match acceptor.accept(socket).await {
                    Ok(stream) => {
                        let _ = tx.send(TlsConn(stream)).await;
                    }
                    Err(e) => log::info!("Flight SQL: TLS handshake with {addr} failed: {e}"),
                }
            });
        }
    });
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|c| (Ok(c), rx)) },
    )
}
