//! Starting a worker: launching its process and the start-up exchange with it.
//!
//! The parent sends the setup frame (the executable's identity and the initializer); the
//! worker answers `STARTING` with its pid once the identity matches, runs the initializer,
//! and answers `READY` or `INIT_FAILED`.

use std::io;
use std::os::unix::net::UnixStream;

use crate::process::Inner;
use crate::process::boot::{INIT_FAILED, MISMATCH, NO_INITIALIZER, READY, SETUP, STARTING};
use crate::process::call::offset_of;
use crate::process::frame::{self, FrameReader, send_all};
use crate::process::launch::{Reaper, parse_pid, start_process};
use crate::process::reader::is_timeout;

/// Why a worker could not be started.
pub(crate) enum StartFailure {
    /// The initializer panicked or overran, as described.
    Initializer(String),
    /// Anything else went wrong, as described.
    Other(String),
}

/// Starts a worker process and completes the start-up exchange with it.
pub(crate) fn start_worker(
    pool: &Inner,
) -> Result<(FrameReader<UnixStream>, u32, Reaper), StartFailure> {
    let other = |error: io::Error| StartFailure::Other(error.to_string());
    let (socket, reaper, launched) = start_process(pool.config.start).map_err(other)?;
    let mut setup = Vec::new();
    frame::encode(&mut setup, SETUP, |body| {
        body.extend_from_slice(&pool.identity.0.to_le_bytes());
        body.extend_from_slice(&pool.identity.1.to_le_bytes());
        let initializer = pool
            .config
            .initializer
            .map_or(NO_INITIALIZER, |f| offset_of(f as usize));
        body.extend_from_slice(&initializer.to_le_bytes());
    });
    send_all(&socket, &setup).map_err(other)?;

    let mut reader = FrameReader::new(socket);
    let (pid, started) = match reader.next_frame() {
        Ok(Some((STARTING, body))) => match parse_pid(body) {
            Some(pid) => (Some(pid), await_ready(pool, &mut reader, pid, &reaper)),
            None => (launched, Err(malformed())),
        },
        Ok(Some((MISMATCH, body))) => (launched, Err(StartFailure::Other(text(body)))),
        Ok(_) => (launched, Err(malformed())),
        Err(error) => (launched, Err(ended_during_start_up(&error))),
    };
    match started {
        Ok(pid) => Ok((reader, pid, reaper)),
        Err(failure) => {
            if let Some(pid) = pid {
                reaper.reap(pid);
            }
            Err(failure)
        }
    }
}

/// Waits for the worker's initializer to finish, at most the initializer timeout (or else
/// the task timeout); a worker whose initializer overruns it is killed.
fn await_ready(
    pool: &Inner,
    reader: &mut FrameReader<UnixStream>,
    pid: u32,
    reaper: &Reaper,
) -> Result<u32, StartFailure> {
    let config = &pool.config;
    let (limit, name) = match config.initializer_timeout {
        Some(limit) => (Some(limit), "initializer timeout"),
        None => (config.task_timeout, "task timeout"),
    };
    let _ = reader.source().set_read_timeout(limit);
    let outcome = match reader.next_frame() {
        Ok(Some((READY, _))) => Ok(pid),
        Ok(Some((INIT_FAILED, body))) => Err(StartFailure::Initializer(text(body))),
        Ok(_) => Err(malformed()),
        Err(error) if is_timeout(&error) => {
            reaper.kill(pid);
            let limit = limit.unwrap_or_default();
            let message = format!("the initializer ran longer than the {limit:?} {name}");
            Err(StartFailure::Initializer(message))
        }
        Err(error) => Err(ended_during_start_up(&error)),
    };
    let _ = reader.source().set_read_timeout(None);
    outcome
}

/// The failure of a worker that broke the start-up exchange.
fn malformed() -> StartFailure {
    StartFailure::Other("the worker sent a malformed start-up reply".to_owned())
}

/// The failure of a worker whose socket failed during start-up.
fn ended_during_start_up(error: &io::Error) -> StartFailure {
    StartFailure::Other(format!("the worker ended during start-up: {error}"))
}

/// A reply body as text.
fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[cfg(test)]
mod tests {
    use crate::{ProcessPool, StartMethod, TaskError};

    /// A task.
    fn double(x: u64) -> u64 {
        x * 2
    }

    /// Workers check that they run the parent's executable; told to expect another one,
    /// each refuses to serve, and the pool reports it as a start failure.
    #[test]
    fn workers_refuse_a_parent_running_another_executable() {
        for method in [StartMethod::ForkServer, StartMethod::Spawn] {
            let mut builder = ProcessPool::builder().workers(1).start_method(method);
            builder.config.identity = Some((0, 0));
            let pool = builder.build().expect("a valid pool");
            match pool.submit(double, 1).result() {
                Err(TaskError::WorkerStart(message)) => {
                    assert!(message.contains("another executable"), "{message}");
                }
                other => panic!("{method:?}: expected a start failure, got {other:?}"),
            }
        }
    }
}
