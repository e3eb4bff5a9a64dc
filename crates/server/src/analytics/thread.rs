//! The click worker's own thread, at a lower CPU priority than the
//! threads that answer requests (ADR 0027).
//!
//! Under a redirect flood, writing clicks is the one piece of work that
//! can wait: the queue is bounded, and what does not fit is counted
//! without its detail. On the request runtime the worker's enrichment and
//! flushes took a fifth of the CPU from redirects; here the scheduler gives
//! redirects the CPU first, and the worker whatever is left (on an idle
//! machine, all it needs). Its store connection is opened from this
//! thread; on SQLite the writes run on this thread itself (ADR 0028).

use std::io;
use std::thread;

use tokio::sync::{oneshot, watch};

use super::ClickWorker;

/// How much lower the worker's priority is: `nice` 10, a tenth of the
/// CPU share of a request thread when both want it.
pub const NICENESS: i32 = 10;

/// Runs `worker` on a thread of its own until `stop` turns true and the
/// worker has flushed. The receiver completes when the thread ends (an
/// error if it panicked).
pub fn spawn(
    worker: ClickWorker,
    stop: watch::Receiver<bool>,
) -> io::Result<oneshot::Receiver<()>> {
    let (done, finished) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    thread::Builder::new()
        .name("kurz-clicks".into())
        .spawn(move || {
            lower_priority();
            runtime.block_on(worker.run(stop));
            let _ = done.send(());
        })?;
    Ok(finished)
}

/// Lowers the calling thread's priority by [`NICENESS`]. On Linux the nice
/// value belongs to the thread, and threads it starts inherit it.
#[cfg(target_os = "linux")]
pub fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    use rustix::thread::gettid;
    let me = Some(gettid());
    // Relative to what the process was started with (`nice kurz serve`);
    // 19 is the lowest there is.
    let lowered =
        getpriority_process(me).and_then(|now| setpriority_process(me, (now + NICENESS).min(19)));
    if let Err(e) = lowered {
        tracing::warn!(error = %io::Error::from(e),
            "could not lower the click worker's priority; it competes with redirects");
    }
}

/// Elsewhere the priority is the process's, and stays as it is.
#[cfg(not(target_os = "linux"))]
pub fn lower_priority() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("nice")
    }

    #[test]
    fn the_worker_thread_and_the_threads_it_starts_run_at_lower_priority() {
        let base = nice_of_this_thread();
        let (own, child) = thread::spawn(move || {
            lower_priority();
            let child = thread::spawn(nice_of_this_thread).join().expect("child");
            (nice_of_this_thread(), child)
        })
        .join()
        .expect("thread");
        let expected = (base + NICENESS).min(19);
        assert_eq!(own, expected);
        assert_eq!(
            child, expected,
            "a thread started from it inherits the priority"
        );
        assert_eq!(
            nice_of_this_thread(),
            base,
            "the caller's priority is untouched"
        );
    }
}
