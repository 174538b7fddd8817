//! The key every test service seals endpoint signing secrets with.

use eventflow_domain::SecretsKeyring;

/// The `EVENTFLOW_SECRETS_KEY` of every test dispatcher, query API, store and CLI run.
pub const TEST_SECRETS_KEY: &str = "RvDPyifUzfU9nVYYKsebCGT6zqKO16MfWPhC6i2H55w=";

/// [`TEST_SECRETS_KEY`] as the settings hold it.
pub fn test_secrets_keyring() -> SecretsKeyring {
    SecretsKeyring::parse(TEST_SECRETS_KEY).expect("a valid test key")
}
