//! eventflow-test-support
