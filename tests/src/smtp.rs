//! A small SMTP server for tests, speaking enough of RFC 5321 for a real client (lettre) to hold a
//! real conversation with it: EHLO, STARTTLS (with a self-signed certificate), AUTH PLAIN and LOGIN,
//! MAIL, RCPT, DATA (dot-unstuffing), RSET, NOOP, QUIT. It can be told to answer 451 (transient) or
//! 550 (permanent) to recipients, and be stopped and restarted on the same port.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA, dot-unstuffed, CRLF line ends.
    pub data: String,
    pub tls: bool,
    pub authenticated_as: Option<String>,
}

/// How the server answers recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 451 to every RCPT.
    Transient,
    /// 550 to recipients whose address contains "reject"; others accepted.
    RejectMarked,
}

/// Server options.
#[derive(Clone, Default)]
pub struct SmtpOptions {
    /// Offer STARTTLS with this certificate and key (PEM).
    pub tls: Option<(String, String)>,
    /// Require AUTH with these credentials before MAIL.
    pub auth: Option<(String, String)>,
    /// Wait this long before accepting each message (a slow relay).
    pub delay_ms: u64,
}

/// A running test SMTP server.
pub struct SmtpServer {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub mode: Arc<Mutex<Mode>>,
    options: SmtpOptions,
    task: Option<JoinHandle<()>>,
}

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM).
pub fn self_signed_localhost() -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    (ck.cert.pem(), ck.key_pair.serialize_pem())
}

impl SmtpServer {
    /// Starts on a free port.
    pub async fn start(options: SmtpOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut s = Self {
            port,
            received: Arc::new(Mutex::new(Vec::new())),
            mode: Arc::new(Mutex::new(Mode::Accept)),
            options,
            task: None,
        };
        s.serve(listener);
        s
    }

    fn serve(&mut self, listener: TcpListener) {
        let received = self.received.clone();
        let mode = self.mode.clone();
        let options = self.options.clone();
        let acceptor = options.tls.as_ref().map(|(cert, key)| acceptor(cert, key));
        self.task = Some(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (received, mode, options, acceptor) =
                    (received.clone(), mode.clone(), options.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _ = session(stream, received, mode, options, acceptor).await;
                });
            }
        }));
    }

    /// Stops listening (connections in progress are cut): the relay is down.
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot rebind {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }

    /// Sets how recipients are answered.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    /// A copy of what was received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().expect("received").clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn acceptor(cert_pem: &str, key_pem: &str) -> TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("cert pem")];
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key pem");
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// What a command loop ended with.
enum Next {
    Done,
    StartTls,
}

struct Session {
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
    options: SmtpOptions,
    can_tls: bool,
    tls: bool,
    buf: Vec<u8>,
    authed: Option<String>,
    from: String,
    rcpts: Vec<String>,
}

/// Reads one CRLF-terminated line (without the CRLF); `None` at end of stream.
async fn read_line<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    loop {
        if let Some(pos) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..pos + 2).collect();
            return Ok(Some(String::from_utf8_lossy(&line[..pos]).into_owned()));
        }
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn session(
    mut stream: TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<Mode>>,
    options: SmtpOptions,
    acceptor: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let mut s = Session {
        received,
        mode,
        options,
        can_tls: acceptor.is_some(),
        tls: false,
        buf: Vec::new(),
        authed: None,
        from: String::new(),
        rcpts: Vec::new(),
    };
    stream.write_all(b"220 localhost ESMTP test server\r\n").await?;
    if let Next::StartTls = s.commands(&mut stream).await? {
        let acc = acceptor.expect("STARTTLS only offered with a certificate");
        let mut tls_stream = acc.accept(stream).await?;
        s.tls = true;
        s.buf.clear();
        s.authed = None;
        s.commands(&mut tls_stream).await?;
    }
    Ok(())
}

impl Session {
    async fn commands<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut S) -> std::io::Result<Next> {
        while let Some(line) = read_line(io, &mut self.buf).await? {
            let upper = line.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") {
                let mut r = String::from("250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n");
                if self.can_tls && !self.tls {
                    r.push_str("250-STARTTLS\r\n");
                }
                if self.options.auth.is_some() {
                    r.push_str("250-AUTH PLAIN LOGIN\r\n");
                }
                r.push_str("250 SIZE 20000000\r\n");
                r
            } else if upper.starts_with("HELO") {
                "250 localhost\r\n".into()
            } else if upper == "STARTTLS" {
                if !self.can_tls || self.tls {
                    "454 4.7.0 TLS not available\r\n".into()
                } else {
                    io.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                    io.flush().await?;
                    return Ok(Next::StartTls);
                }
            } else if upper.starts_with("AUTH PLAIN") {
                let arg = line
                    .get(10..)
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string);
                let arg = match arg {
                    Some(a) => a,
                    None => {
                        io.write_all(b"334 \r\n").await?;
                        read_line(io, &mut self.buf).await?.unwrap_or_default()
                    }
                };
                let decoded = STANDARD.decode(arg.trim()).unwrap_or_default();
                let parts: Vec<String> = decoded
                    .split(|b| *b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                if parts.len() == 3 && self.check(&parts[1], &parts[2]) {
                    self.authed = Some(parts[1].clone());
                    "235 2.7.0 Authentication successful\r\n".into()
                } else {
                    "535 5.7.8 Authentication credentials invalid\r\n".into()
                }
            } else if upper.starts_with("AUTH LOGIN") {
                io.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                let user = read_line(io, &mut self.buf).await?.unwrap_or_default();
                io.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                let pass = read_line(io, &mut self.buf).await?.unwrap_or_default();
                let d = |x: &str| {
                    String::from_utf8_lossy(&STANDARD.decode(x.trim()).unwrap_or_default()).into_owned()
                };
                let (user, pass) = (d(&user), d(&pass));
                if self.check(&user, &pass) {
                    self.authed = Some(user);
                    "235 2.7.0 Authentication successful\r\n".into()
                } else {
                    "535 5.7.8 Authentication credentials invalid\r\n".into()
                }
            } else if upper.starts_with("MAIL FROM:") {
                if self.options.auth.is_some() && self.authed.is_none() {
                    "530 5.7.0 Authentication required\r\n".into()
                } else {
                    self.from = line[10..].trim().to_string();
                    self.rcpts.clear();
                    "250 2.1.0 OK\r\n".into()
                }
            } else if upper.starts_with("RCPT TO:") {
                let to = line[8..].trim().to_string();
                let m = *self.mode.lock().expect("mode");
                match m {
                    Mode::Transient => "451 4.3.0 Try again later\r\n".into(),
                    Mode::RejectMarked if to.contains("reject") => "550 5.1.1 No such user\r\n".into(),
                    _ => {
                        self.rcpts.push(to);
                        "250 2.1.5 OK\r\n".into()
                    }
                }
            } else if upper == "DATA" {
                if self.rcpts.is_empty() {
                    "503 5.5.1 No recipients\r\n".into()
                } else {
                    io.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let mut data = String::new();
                    loop {
                        let Some(l) = read_line(io, &mut self.buf).await? else {
                            return Ok(Next::Done);
                        };
                        if l == "." {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                        data.push_str("\r\n");
                    }
                    if self.options.delay_ms > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(self.options.delay_ms)).await;
                    }
                    self.received.lock().expect("received").push(Received {
                        mail_from: self.from.clone(),
                        rcpt_to: std::mem::take(&mut self.rcpts),
                        data,
                        tls: self.tls,
                        authenticated_as: self.authed.clone(),
                    });
                    "250 2.0.0 Queued\r\n".into()
                }
            } else if upper == "RSET" {
                self.rcpts.clear();
                "250 2.0.0 OK\r\n".into()
            } else if upper == "NOOP" {
                "250 2.0.0 OK\r\n".into()
            } else if upper == "QUIT" {
                io.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(Next::Done);
            } else {
                "502 5.5.2 Command not recognized\r\n".into()
            };
            io.write_all(reply.as_bytes()).await?;
        }
        Ok(Next::Done)
    }

    fn check(&self, user: &str, pass: &str) -> bool {
        self.options
            .auth
            .as_ref()
            .is_some_and(|(u, p)| u == user && p == pass)
    }
}
