//! The file descriptor limit, which bounds open connections: raised to the hard limit at
//! start, as mature servers do, and the default connection limit derived from it.

/// Descriptors kept for everything but inbound connections, beyond two per delivery worker
/// (an outbound connection in use and one idle in the pool): the database's connections
/// (SQLite opens three files per connection), the listener, logs, key and bench files.
const RESERVED: u64 = 128;

/// The default connection limit never goes over this, however high the descriptor limit:
/// each connection costs memory (buffers, a task).
const MOST_CONNECTIONS: u64 = 16_384;

/// The fewest connections a default allows, even under a tiny descriptor limit.
const FEWEST_CONNECTIONS: u64 = 16;

/// Raises the soft limit on open files to the hard limit; answers the soft limit in force
/// (`None` when unknown or unlimited).
pub fn raise_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let raised = Rlimit { current: limit.maximum, maximum: limit.maximum };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => tracing::debug!(from = ?limit.current, to = ?limit.maximum, "raised the open files limit"),
                Err(e) => tracing::debug!(error = %e, "could not raise the open files limit"),
            }
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// The soft limit on open files now (`None` when unknown or unlimited).
pub fn current_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// The default `--max-connections`: what the descriptor limit leaves once the database, the
/// delivery workers and files have their share; between 16 and 16,384.
pub fn default_max_connections(descriptors: Option<u64>, delivery_concurrency: usize) -> usize {
    let reserved = RESERVED + 2 * delivery_concurrency as u64;
    let available = descriptors.map_or(MOST_CONNECTIONS, |n| n.saturating_sub(reserved));
    usize::try_from(available.clamp(FEWEST_CONNECTIONS, MOST_CONNECTIONS)).unwrap_or(usize::MAX)
}

/// Whether `max_connections` leaves the reserve free under the current limit.
pub fn fits(max_connections: usize, delivery_concurrency: usize) -> bool {
    current_limit().is_none_or(|limit| max_connections as u64 + RESERVED + 2 * delivery_concurrency as u64 <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_room_for_the_database_and_the_workers() {
        // 1,024 descriptors, 64 workers: 1024 - 128 - 128.
        assert_eq!(default_max_connections(Some(1024), 64), 768);
        assert_eq!(default_max_connections(Some(1_048_576), 64), 16_384);
        assert_eq!(default_max_connections(Some(100), 64), 16);
        assert_eq!(default_max_connections(None, 64), 16_384);
    }
}
