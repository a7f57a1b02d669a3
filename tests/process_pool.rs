//! The process pool on every scenario shared with the other pool kinds.
//!
//! The process pool's own failure modes (crashing, hanging and killed workers, the
//! initializer, parent death) have their own test files.

mod common;

use poolscope::ProcessPool;

/// Runs each named scenario of `common` as a test on process pools.
macro_rules! shared_scenarios {
    ($($module:ident::$scenario:ident),* $(,)?) => {
        $(
            #[test]
            fn $scenario() {
                common::$module::$scenario(ProcessPool::new);
            }
        )*
    };
}

shared_scenarios!(
    handle::states_and_cancel,
    handle::try_result_and_wait_timeout,
    handle::panic_is_reported,
    handle::callbacks_run_once,
    handle::callback_sees_cancel,
    handle::panicking_callback_is_contained,
    handle::shutdown_from_callback,
    handle::await_handles,
    waiting::wait_first_completed,
    waiting::wait_first_completed_already_done,
    waiting::wait_first_error,
    waiting::wait_first_error_without_errors,
    waiting::wait_all_completed,
    waiting::wait_timeout,
    waiting::as_completed_order,
    waiting::as_completed_timeout,
    lifecycle::map_in_order,
    lifecycle::map_with_panic,
    lifecycle::map_endless,
    lifecycle::shutdown_waits,
    lifecycle::shutdown_without_wait,
    lifecycle::shutdown_cancel_waits,
    lifecycle::shutdown_cancel_without_wait,
    lifecycle::submit_after_shutdown,
    lifecycle::drop_waits,
    lifecycle::reports_size,
);
