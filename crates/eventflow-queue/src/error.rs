/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid redis url")]
    InvalidUrl(#[source] fred::error::Error),
    #[error("redis command failed")]
    Redis(#[from] fred::error::Error),
    #[error("the dispatch consumer group does not exist (redis lost its data?)")]
    NoGroup,
    #[error("redis did not answer in time")]
    Timeout,
    #[error("unexpected reply from redis: {0}")]
    UnexpectedReply(String),
}
