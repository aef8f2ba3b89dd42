//! Ctrl-C and termination signals: the first one asks the run to stop
//! cleanly (the current row is marked `killed`, records are flushed, exit
//! 130); a second one while stopping exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Exit code of an interrupted run (128 + SIGINT), as shells expect.
pub const EXIT_CODE: u8 = 130;

/// Installs the handler once; later calls do nothing.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            // Second signal: the user does not want to wait.
            std::process::exit(i32::from(EXIT_CODE));
        }
        errln!(
            "\ninterrupted: marking the current row killed and saving records (Ctrl-C again to quit now)"
        );
    });
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks the run to stop, as a signal would (for tests and embedders).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
