// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend.hpp"

namespace fleetpower {

struct SchedulerOptions {
  /// The largest number of operations in flight at once.  With `adaptive` (the default) the
  /// window starts at min(initial_window, fanout) and adapts below this maximum (AIMD): it
  /// grows by one per operation that completed without retransmissions (doubling per round
  /// trip until the first loss, then +1 per window), and halves, at most once per median
  /// latency, when a BMC that did answer needed retransmissions or timed out mid-exchange.
  /// The doubling also ends when answers queue: the fastest of the last eight clean
  /// completions spent more than twice the run's fastest plus 50 ms on the wire (the pauses
  /// between a verification's reads left out; like TCP's HyStart).
  /// Dead addresses (no answer at all) are not taken as congestion.
  std::size_t fanout = 256;
  bool adaptive = true;
  std::size_t initial_window = 64;
  std::size_t min_window = 8;
  static constexpr std::size_t kMaxFanout = 16384;
  Millis timeout{std::chrono::seconds(10)};  ///< per target
  std::optional<Millis> deadline;            ///< whole run, from run() start
  /// After a cancellation, how long a backend gets to finish before the scheduler completes
  /// the target itself (and ignores the late completion).
  Millis grace{std::chrono::milliseconds(750)};
  /// An operation that has run longer than the stall threshold (4x the median latency seen
  /// so far, within [min_stall, timeout/4]) stops counting against the fan-out window, so
  /// dead or hung BMCs cannot hold the window: a run is bounded by its timeout, not by
  /// N/fanout x timeout.  Stalled plus active operations never exceed kMaxFanout.
  Millis min_stall{std::chrono::milliseconds(250)};
  /// For jobs with Job::timeout_from_ready: their timeout counts from the moment they are
  /// ready to start (run start + not_before, or when their BMC became free), not from when the
  /// window admits them, so a run of targets that all time out ends after one timeout, whatever
  /// N and the window.  Such a job that has waited for a window slot this long (default: 40%
  /// of the timeout) starts anyway, so it still gets the rest on the wire; a job started later
  /// than half its timeout (a loop busy with thousands of starts) gets half from its start.
  /// Once BMCs that answer have shown congestion in the run (late answers after
  /// retransmissions), jobs no longer start by being overdue: the window holds them back, and a
  /// job it held back gets its whole timeout from its start (slow BMCs take a run longer than
  /// the timeout; dead ones still do not).
  std::optional<Millis> max_queue_wait;
};

/// One target's work within a run.
struct Job {
  const Target* target = nullptr;
  const Credential* credential = nullptr;
  Request request;
  std::optional<Outcome> preset;  ///< decided before the run (e.g. a config error): not started
  Millis not_before{0};           ///< earliest start, relative to run start (power plans)
  std::optional<Millis> timeout;  ///< overrides SchedulerOptions::timeout for this job
  /// The timeout counts from when the job is ready rather than from its start, and a job that
  /// waited SchedulerOptions::max_queue_wait for a window slot starts anyway.  For transports
  /// whose start costs a datagram (IPMI over UDP): a run with dead BMCs then ends after one
  /// timeout.  Not for TCP+TLS (Redfish), whose starts are expensive and queue on connections.
  bool timeout_from_ready = false;
};

/// What a runner gets for one job.  Lives until the job completes.
struct JobContext {
  const Target& target;
  const Credential* credential;
  Request request;
  Clock::time_point deadline;
  asio::cancellation_slot cancel;  ///< hand to the current backend op or wait
  /// Set once the scheduler has cancelled this job (none otherwise).
  asio::cancellation_type cancelled = asio::cancellation_type::none;
  Backend* backend;
  asio::any_io_executor executor;
  /// A runner waiting between operations (verification polls, the power governor) calls
  /// set_waiting(true): the job then leaves the fan-out window, which limits operations on
  /// the wire, and its stall clock stops.  It keeps its BMC meanwhile.  Before its next
  /// operation it calls resume(next): `next` runs at once (the job counts in the window
  /// again), except once BMCs that answer have shown congestion and the window is full: it
  /// then runs when a slot frees, before any new target starts.  A job cancelled while it
  /// waits for a slot runs `next` at once (it then sees `cancelled` and ends).
  std::function<void(bool)> set_waiting;
  std::function<void(std::function<void()>)> resume;
  /// When the job became ready to start (its timeout counts from here; see
  /// SchedulerOptions::max_queue_wait).  A runner bounds its first operation by
  /// ready + the per-operation timeout.
  Clock::time_point ready{};
};

/// How one job is carried out: by default one backend operation; fleet operations
/// (verification, soft-then-force) compose several.  Must call `done` exactly once.
using Runner = std::function<void(std::shared_ptr<JobContext>, CompletionFn)>;

/// One event loop, a fan-out window, at most one operation per BMC at a time, per-target
/// and whole-run deadlines, and interruption.
class Scheduler {
 public:
  Scheduler(asio::io_context& io, const BackendRegistry& backends, SchedulerOptions opts);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void set_runner(Runner r) { runner_ = std::move(r); }
  /// Called on the loop thread as each job completes (streaming output, journal, progress).
  void on_result(std::function<void(std::size_t, const Outcome&)> f) { on_result_ = std::move(f); }
  /// Checked before each start; returning false stops new starts (max-fail).  The reason is
  /// reported on the targets left `not attempted`.
  void set_admission(std::function<bool(std::string*)> f) { admit_ = std::move(f); }

  /// Runs the jobs to completion on `io` (calls io.run()); one Outcome per job, same order.
  std::vector<Outcome> run(std::vector<Job> jobs);

  /// Ctrl-C: stop starting, cancel everything in flight (terminal); in-flight targets end
  /// `interrupted`, the rest `not attempted`.  Safe to call from a signal_set handler.
  void interrupt();
  bool interrupted() const { return interrupted_; }

  std::size_t in_flight() const { return in_flight_ + stalled_ + waiting_; }
  std::size_t completed() const { return completed_; }
  std::size_t total() const { return jobs_.size(); }
  /// The current fan-out window (adaptive), and the smallest/largest it was in the last run.
  std::size_t window() const;
  std::size_t window_min() const { return window_min_; }
  std::size_t window_max() const { return window_max_; }

 private:
  struct Slot;
  void pump();
  void start(std::size_t i);
  void finish(std::size_t i, Outcome o);
  void cancel_job(std::size_t i, asio::cancellation_type t);
  void arm_slot(std::size_t i);
  void on_slot_timer(std::size_t i);
  void end_pending(ErrorKind k, const std::string& reason);
  void on_run_deadline();
  std::string bmc_of(std::size_t i) const;

  asio::io_context& io_;
  const BackendRegistry& backends_;
  SchedulerOptions opts_;
  Runner runner_;
  std::function<void(std::size_t, const Outcome&)> on_result_;
  std::function<bool(std::string*)> admit_;

  std::vector<Job> jobs_;
  std::vector<std::optional<Outcome>> results_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<char> started_;
  std::vector<std::unique_ptr<Slot>> retired_;
  std::deque<std::size_t> pending_;  // ready to start, in order
  /// Waiting jobs whose next operation waits for a window slot (congested runs), in order.
  std::deque<std::pair<std::size_t, std::function<void()>>> resuming_;
  void resume(std::size_t i, std::function<void()> next);
  void resume_now(std::size_t i);
  void drop_resume(std::size_t i);
  std::map<std::string, std::deque<std::size_t>> waiting_on_bmc_;
  std::map<std::string, bool> bmc_busy_;
  std::size_t in_flight_ = 0;  ///< active operations (count against the fan-out)
  std::size_t stalled_ = 0;    ///< operations past the stall threshold (do not)
  std::size_t waiting_ = 0;    ///< jobs between operations (do not)
  std::vector<Millis> latencies_;  ///< recent completion latencies (ring)
  std::size_t latency_next_ = 0;
  Millis stall_threshold(Millis timeout);
  Millis median_latency() const;
  void adapt(const Outcome& o, bool retransmitted, Millis active);
  Millis queue_wait_limit(std::size_t i) const;
  void arm_overdue();
  std::vector<Clock::time_point> ready_;
  double cwnd_ = 0;
  double ssthresh_ = 0;
  std::optional<Millis> base_latency_;
  Clock::time_point last_decrease_{};
  bool congested_ = false;  ///< live BMCs answered late and needed retransmissions (this run)
  std::size_t unclean_before_base_ = 0;  ///< answered completions with retransmissions before a clean one
  std::optional<Millis> base_active_;     ///< the fastest clean completion, waits left out
  std::array<Millis, 8> recent_clean_{};  ///< the last clean completions' time on the wire (ring)
  std::size_t clean_seen_ = 0;            ///< clean completions this run
  std::size_t window_min_ = 0, window_max_ = 0;
  std::unique_ptr<asio::steady_timer> overdue_timer_;
  Clock::time_point overdue_at_{};
  std::size_t completed_ = 0;
  bool interrupted_ = false;
  bool stopped_ = false;  ///< no more starts (deadline, interrupt, admission)
  std::string stop_reason_;
  Clock::time_point run_start_;
  std::unique_ptr<asio::steady_timer> run_timer_;
  std::unique_ptr<asio::steady_timer> start_timer_;
};

}  // namespace fleetpower
