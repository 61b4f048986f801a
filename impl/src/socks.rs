//! SOCKS5 proxies (RFC 1928, with RFC 1929 user/password): the byte
//! stream to the server opened through a SOCKS5 proxy, before TLS and the
//! WebSocket handshake, which then run through it unchanged.
//!
//! As curl: `socks5://` resolves the server's name here and gives the
//! proxy an address; `socks5h://` gives the proxy the name to resolve (for
//! names only the proxy's side can resolve, e.g. through Tor).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use futures::io::{AsyncReadExt, AsyncWriteExt};

use crate::proxy_error::ProxyError;
use crate::runtime::BoxedStream;

/// How to reach a SOCKS5 proxy's far side.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Socks5 {
    /// `socks5h`: the proxy resolves the server's name.
    pub remote_dns: bool,
    /// User and password (RFC 1929), from the proxy URL.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Socks5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the credentials.
        f.debug_struct("Socks5")
            .field("remote_dns", &self.remote_dns)
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What the SOCKS5 request names as the destination.
enum Destination {
    Ip(IpAddr),
    Name(String),
}

impl Socks5 {
    /// Opens a connection to `host:port` through the proxy at `stream`
    /// (already connected to it), named `proxy` in errors.
    pub async fn connect(
        &self,
        mut stream: BoxedStream,
        proxy: &str,
        host: &str,
        port: u16,
    ) -> Result<BoxedStream, ProxyError> {
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let destination = match host.parse::<IpAddr>() {
            Ok(ip) => Destination::Ip(ip),
            Err(_) if self.remote_dns => Destination::Name(host.to_string()),
            Err(_) => Destination::Ip(resolve(host, port).await.map_err(|source| ProxyError::Unresolved {
                proxy: proxy.to_string(),
                host: host.to_string(),
                source,
            })?),
        };
        let lost = |source| ProxyError::Lost {
            proxy: proxy.to_string(),
            source,
        };
        let auth_refused = |why: &'static str| ProxyError::SocksAuth {
            proxy: proxy.to_string(),
            why,
        };
        // Greeting: the methods we can do (RFC 1928 §3).
        let greeting: &[u8] = if self.credentials.is_some() {
            &[5, 2, 0, 2]
        } else {
            &[5, 1, 0]
        };
        stream.write_all(greeting).await.map_err(lost)?;
        let mut choice = [0u8; 2];
        stream.read_exact(&mut choice).await.map_err(lost)?;
        if choice[0] != 5 {
            return Err(ProxyError::BadResponse {
                proxy: proxy.to_string(),
                why: format!("its greeting is version {}, not SOCKS5's 5", choice[0]),
            });
        }
        match (choice[1], &self.credentials) {
            (0, _) => {}
            (2, Some((user, password))) => {
                // RFC 1929: version 1, then each field with a length byte.
                let (user, password) = (user.as_bytes(), password.as_bytes());
                if user.len() > 255 || password.len() > 255 {
                    return Err(auth_refused(
                        "the user or password is over 255 bytes, which SOCKS5 cannot carry",
                    ));
                }
                let mut request = vec![1, user.len() as u8];
                request.extend_from_slice(user);
                request.push(password.len() as u8);
                request.extend_from_slice(password);
                stream.write_all(&request).await.map_err(lost)?;
                let mut status = [0u8; 2];
                stream.read_exact(&mut status).await.map_err(lost)?;
                if status[1] != 0 {
                    return Err(auth_refused("it refused the user and password"));
                }
            }
            (0xFF, None) | (2, None) => return Err(auth_refused("it wants credentials and none were given")),
            (0xFF, Some(_)) => {
                return Err(auth_refused(
                    "it accepts neither no authentication nor a user and password",
                ))
            }
            (other, _) => {
                return Err(ProxyError::BadResponse {
                    proxy: proxy.to_string(),
                    why: format!("it chose authentication method {other}, which was not offered"),
                })
            }
        }
        // CONNECT (RFC 1928 §4).
        let mut request = vec![5, 1, 0];
        match &destination {
            Destination::Ip(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Ip(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            Destination::Name(name) => {
                let name = name.as_bytes();
                let Ok(len) = u8::try_from(name.len()) else {
                    return Err(ProxyError::SocksRefused {
                        proxy: proxy.to_string(),
                        target,
                        reply: 8,
                    });
                };
                request.push(3);
                request.push(len);
                request.extend_from_slice(name);
            }
        }
        request.extend_from_slice(&port.to_be_bytes());
        stream.write_all(&request).await.map_err(lost)?;
        stream.flush().await.map_err(lost)?;
        let mut reply = [0u8; 4];
        stream.read_exact(&mut reply).await.map_err(lost)?;
        if reply[0] != 5 {
            return Err(ProxyError::BadResponse {
                proxy: proxy.to_string(),
                why: format!("its reply is version {}, not SOCKS5's 5", reply[0]),
            });
        }
        if reply[1] != 0 {
            return Err(ProxyError::SocksRefused {
                proxy: proxy.to_string(),
                target,
                reply: reply[1],
            });
        }
        // The address the proxy bound: read and dropped, so that what
        // follows is the server's.
        let rest = match reply[3] {
            1 => 4 + 2,
            4 => 16 + 2,
            3 => {
                let mut len = [0u8; 1];
                stream.read_exact(&mut len).await.map_err(lost)?;
                usize::from(len[0]) + 2
            }
            other => {
                return Err(ProxyError::BadResponse {
                    proxy: proxy.to_string(),
                    why: format!("its reply has address type {other}"),
                })
            }
        };
        let mut bound = vec![0u8; rest];
        stream.read_exact(&mut bound).await.map_err(lost)?;
        Ok(stream)
    }
}

/// Resolves `host` here (`socks5://`), on a thread of its own: the
/// system resolver blocks, and a plain thread works on every runtime.
async fn resolve(host: &str, port: u16) -> io::Result<IpAddr> {
    let (tx, rx) = futures::channel::oneshot::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("wsapi-resolve".into())
        .spawn(move || {
            let _ = tx.send((name.as_str(), port).to_socket_addrs().map(|mut a| a.next()));
        })?;
    match rx.await {
        Ok(Ok(Some(addr))) => Ok(SocketAddr::ip(&addr)),
        Ok(Ok(None)) => Err(io::Error::new(io::ErrorKind::NotFound, "the name has no address")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("the resolver stopped")),
    }
}
