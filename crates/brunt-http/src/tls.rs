//! rustls client settings (ring provider, webpki roots), built once per process and shared by
//! every client, because VUs are many and root stores are not small; and a connection's own
//! settings over them ([`TlsExtras`]: more CA certificates, a client certificate), built for
//! that connection.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};

/// The shared TLS settings: `insecure` skips certificate checks, `h2` offers HTTP/2 by ALPN.
pub(crate) fn client_config(insecure: bool, h2: bool) -> Arc<ClientConfig> {
    static CONFIGS: [OnceLock<Arc<ClientConfig>>; 4] = [const { OnceLock::new() }; 4];
    let slot = usize::from(insecure) * 2 + usize::from(h2);
    CONFIGS[slot]
        .get_or_init(|| Arc::new(build(insecure, h2)))
        .clone()
}

/// What one connection adds to the client's TLS settings (k6/net/grpc's `connect` `tls`).
#[derive(Debug, Default)]
pub struct TlsExtras {
    /// CA certificates trusted beside the built-in roots.
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// The client's certificate chain and its key, for servers that ask for one.
    pub client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

/// The shared settings with `extras` added, for one connection; the error says which part
/// rustls refused.
pub(crate) fn client_config_with(
    insecure: bool,
    h2: bool,
    extras: &TlsExtras,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for (i, ca) in extras.ca_certs.iter().enumerate() {
        roots
            .add(ca.clone())
            .map_err(|e| format!("failed to append ca certificate [{i}]: {e}"))?;
    }
    let client = extras
        .client_cert
        .as_ref()
        .map(|(chain, key)| (chain.clone(), key.clone_key()));
    build_with(insecure, h2, roots, client).map(Arc::new)
}

fn build(insecure: bool, h2: bool) -> ClientConfig {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    build_with(insecure, h2, roots, None).expect("no client certificate to refuse")
}

/// The client's certificate chain and key.
type ClientCert = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn build_with(
    insecure: bool,
    h2: bool,
    roots: RootCertStore,
    client: Option<ClientCert>,
) -> Result<ClientConfig, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports rustls' default protocol versions");
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("failed to append certificate from PEM: {e}"))?,
    };
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// k6's `insecureSkipTLSVerify`: any certificate is accepted, signatures are still checked so the
/// handshake itself stays sound.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
