//! Process limits that a thousand connections run into.

use std::io;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard one, as Go's runtime and nginx
/// do, so a thousand sockets work where the default soft limit is 1024.
/// Returns the limit now in force (`None`: unlimited); on failure, the old one.
pub fn raise_open_file_limit() -> Result<Option<u64>, (Option<u64>, io::Error)> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(limit.current);
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => Ok(limit.maximum),
        Err(e) => Err((limit.current, e.into())),
    }
}
