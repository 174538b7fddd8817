//! The process-wide rustls crypto provider.
//!
//! Every rustls user that does not pick a provider itself (tonic TLS, fred, tokio-postgres-rustls)
//! asks rustls for the process default, which panics when both aws-lc-rs and ring are compiled
//! in. Installing aws-lc-rs explicitly at start-up removes that ambiguity.

/// Installs aws-lc-rs as rustls' process-wide crypto provider; `main` calls it first.
///
/// Calling it again, or after another provider was installed, changes nothing.
pub fn install_crypto_provider() {
    // An error only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_clients_can_be_built_after_installing_the_provider() {
        install_crypto_provider();
        install_crypto_provider();

        let _config = rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
    }
}
