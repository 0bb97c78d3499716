#pragma once

/// @file
/// Termination signals for the daemons, handled synchronously on the main thread.

namespace pulsestream::runtime {

/// Blocks SIGTERM and SIGINT in the calling thread and in every thread it creates afterwards.
/// Call first thing in main(), before any thread starts, so no other thread is interrupted.
void block_termination_signals();

/// Waits until SIGTERM or SIGINT arrives (after block_termination_signals()); returns it.
int wait_for_termination_signal();

}  // namespace pulsestream::runtime
