// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/fleet.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "core/duration.hpp"

#include <cstdlib>

namespace fleetpower {

namespace {

bool is_power_action(Action a) {
  switch (a) {
    case Action::On:
    case Action::Off:
    case Action::Soft:
    case Action::Cycle:
    case Action::Reset:
      return true;
    default:
      return false;
  }
}

bool is_transport_failure(const Outcome& o) {
  return o.error == ErrorKind::Timeout || o.error == ErrorKind::NoResponse || o.error == ErrorKind::Connection;
}

/// One target's verified power operation: an explicit state machine.
class Operation : public std::enable_shared_from_this<Operation> {
 public:
  enum class Step { ReadState, Act, Wait, Poll, ForceOff, Done };

  Operation(std::shared_ptr<JobContext> ctx, const FleetOptions& o, CompletionFn done)
      : ctx_(std::move(ctx)), o_(o), done_(std::move(done)), timer_(ctx_->executor) {}

  void begin() {
    started_ = Clock::now();
    // --force on, off and soft: the read before acting would decide nothing (the action is
    // sent whatever the state), so send it at once, as ipmipower and ipmitool do; the end
    // state is still verified after it.  Cycle and reset keep the read: off, they power on.
    if (o_.force && !o_.dry_run && (action() == Action::On || action() == Action::Off || action() == Action::Soft)) {
      act_ = action();
      return act();
    }
    // Read, decide and act in one exchange when the backend can; not under --dry-run, nor
    // when a power-on must first get room on its circuit (the governor is asked between the
    // read and the action).
    const bool governed = o_.governor && (action() == Action::On || action() == Action::Cycle ||
                                          action() == Action::Reset);
    if (!o_.dry_run && !governed && ctx_->backend->reads_first(ctx_->target)) return read_and_act();
    read_state();
  }

 private:
  Action action() const { return ctx_->request.action; }
  /// The state the asked action ends in.
  PowerState want() const {
    return (action() == Action::Off || action() == Action::Soft) ? PowerState::Off : PowerState::On;
  }

  /// `steps`: 2 for a read_first exchange (read, then act): the read keeps one operation's
  /// timeout, the action gets another, as when they were two operations.
  void call(Request r, std::function<void(Outcome)> cb, int steps = 1) {
    auto self = shared_from_this();
    // The first operation's timeout counts from when the job became ready (the scheduler's
    // queue wait included), so a fleet of dead BMCs ends after one timeout.
    auto from = Clock::now();
    if (first_call_ && ctx_->ready != Clock::time_point{}) from = std::max(ctx_->ready, from - o_.op_timeout / 2);
    first_call_ = false;
    auto op_deadline = std::min(from + steps * o_.op_timeout, ctx_->deadline);
    Clock::time_point read_deadline{};
    if (steps > 1) read_deadline = std::min(from + o_.op_timeout, ctx_->deadline);
    ctx_->backend->start(OpContext{ctx_->target, *ctx_->credential, r, op_deadline, ctx_->cancel, read_deadline},
                         [self, cb = std::move(cb)](Outcome out) {
                           self->retransmits_ += out.retransmits;
                           cb(std::move(out));
                         });
  }

  Request with_action(Action a) const {
    Request r = ctx_->request;
    r.action = a;
    r.read_back = o_.wait;  // under --no-wait nothing looks at the state after the action
    return r;
  }

  void read_state() {
    step_ = Step::ReadState;
    call(with_action(Action::Status), [self = shared_from_this()](Outcome out) { self->on_state(std::move(out)); });
  }

  void on_state(Outcome st) {
    if (stopped()) return finish_cancelled(st);
    if (!st.ok()) {
      // Without a readable state we cannot be idempotent or verify: report why.
      st.reason = "reading the power state: " + st.reason;
      return finish(std::move(st));
    }
    initial_ = st.state;
    const bool on = st.state == PowerState::On || st.state == PowerState::PoweringOn;
    const bool off = st.state == PowerState::Off || st.state == PowerState::PoweringOff;
    Action a = action();
    if (o_.dry_run) {
      std::string what;
      switch (a) {
        case Action::On: what = on ? "already on" : "would power on"; break;
        case Action::Off: what = off ? "already off" : "would power off"; break;
        case Action::Soft: what = off ? "already off" : "would shut down"; break;
        case Action::Cycle: what = off ? "would power on (is off)" : "would power cycle"; break;
        case Action::Reset: what = off ? "would power on (is off)" : "would reset"; break;
        default: what = "would act"; break;
      }
      return finish(Outcome::success(what, st.state));
    }
    PowerDecision d = decide_power(a, st.state);
    if (!o_.force && !d.send) return finish(Outcome::success(d.result, st.state));
    act_ = a;
    if (d.send) {
      act_ = d.action;
      note_ = d.note;
    }
    act();
  }

  /// One exchange: the backend reads the state, decides with decide_power() and acts (or not).
  void read_and_act() {
    step_ = Step::Act;
    acted_at_ = Clock::now();
    Request r = with_action(action());
    r.read_first = true;
    call(r, [self = shared_from_this()](Outcome out) { self->on_read_and_acted(std::move(out)); }, 2);
  }

  void on_read_and_acted(Outcome out) {
    std::optional<PowerState> before;
    std::string acted;
    for (auto it = out.facts.begin(); it != out.facts.end();) {
      if (it->first == "state_before") before = power_state_from_name(it->second);
      else if (it->first == "acted") acted = it->second;
      else if (it->first == "read_ms") acted_at_ += Millis(std::atoll(it->second.c_str()));  // sent then
      else {
        ++it;
        continue;
      }
      it = out.facts.erase(it);
    }
    if (!before || acted.empty()) {
      // Nothing was sent: the read itself failed (or was cut short).
      if (stopped()) return finish_cancelled(std::move(out));
      if (out.ok()) out = Outcome::failure(ErrorKind::Protocol, "the backend neither read the state nor acted");
      out.reason = "reading the power state: " + out.reason;
      return finish(std::move(out));
    }
    initial_ = *before;
    if (acted == "none") return finish(std::move(out));  // already in the asked state
    auto a = parse_action(acted);
    if (!a) return finish(Outcome::failure(ErrorKind::Internal, "backend acted with an unknown action: " + acted));
    act_ = *a;
    note_ = decide_power(action(), *before).note;
    on_acted(std::move(out));
  }

  void act() {
    if (o_.governor && (act_ == Action::On || act_ == Action::Cycle)) {
      step_ = Step::Act;
      set_waiting(true);
      o_.governor->acquire(ctx_->target, ctx_->cancel, [self = shared_from_this()](std::shared_ptr<PowerGovernor::Ticket> t) {
        self->set_waiting(false);
        if (!t) return self->finish_cancelled(Outcome::failure(ErrorKind::Timeout, "timed out waiting for room on the circuit"));
        self->ticket_ = std::move(t);
        self->send_action();
      });
      return;
    }
    send_action();
  }

  void send_action() {
    step_ = Step::Act;
    acted_at_ = Clock::now();
    call(with_action(act_), [self = shared_from_this()](Outcome out) { self->on_acted(std::move(out)); });
  }

  void on_acted(Outcome out) {
    // The BMC refused the action only when it answered with an error that is not a lost reply.
    if (ticket_) o_.governor->replied(ticket_, out.ok() || is_transport_failure(out) || stopped());
    if (stopped()) return finish_cancelled(out);
    // Cycle and reset go through off briefly: read early to see it (also after a lost reply).
    if (act_ == Action::Cycle) poll_delay_ = std::min(poll_delay_, Millis(400));
    if (!out.ok()) {
      if (is_transport_failure(out)) {
        // The request may have been carried out and only the reply lost: never send a power
        // action twice; read the state instead.
        lost_reply_ = true;
        lost_reason_ = out.reason;
        return schedule_poll();
      }
      return finish(std::move(out));
    }
    // A backend that carried out the cycle itself (PDU outlets: all off, wait, all on) says so.
    bool read_after = false;
    for (auto& [k, v] : out.facts) {
      if (k == "cycled" && v == "off-on") seen_not_on_ = true;
      if (k == "state_after") read_after = true;
    }
    if (!o_.wait && !(act_ == Action::Soft && o_.then_force)) return finish(Outcome::success("ok"));
    // The backend read the state right after the action, in the same session (IPMI: Get
    // Chassis Status after the Chassis Control): a node that switched at once is verified
    // without waiting for the first poll.  On and off only: a cycle or reset reads on
    // before it has even begun.
    if (read_after && (act_ == Action::On || act_ == Action::Off) && out.state != PowerState::Unknown) {
      last_ = out.state;
      if (out.state != PowerState::On) seen_not_on_ = true;
      if (out.state == want()) return reached();
    }
    schedule_poll();
  }

  Millis wait_limit() const {
    if (act_ == Action::Soft) return o_.then_force ? *o_.then_force : o_.soft_wait_timeout;
    return o_.wait_timeout;
  }

  void schedule_poll() {
    step_ = Step::Wait;
    auto limit = (forced_ ? forced_at_ : acted_at_) + (forced_ ? o_.wait_timeout : wait_limit());
    if (Clock::now() >= limit || Clock::now() >= ctx_->deadline) return on_wait_expired();
    // Cycle and reset first go through off: give the BMC a moment before the first read.
    timer_.expires_after(std::min(poll_delay_, std::chrono::duration_cast<Millis>(limit - Clock::now())));
    poll_delay_ = std::min(o_.poll_max, poll_delay_ * 3 / 2);
    set_waiting(true);
    timer_.async_wait(asio::bind_cancellation_slot(
        ctx_->cancel, [self = shared_from_this()](boost::system::error_code ec) {
          if (ec) return self->finish_cancelled(Outcome::failure(ErrorKind::Timeout, self->waiting_what()));
          // The read waits for a window slot when slow BMCs are already answering late.
          self->resume([self] {
            if (self->stopped()) return self->finish_cancelled(Outcome::failure(ErrorKind::Timeout, self->waiting_what()));
            self->poll();
          });
        }));
  }

  std::string waiting_what() const {
    return fmt::format("timed out waiting for the node to reach {} (last state: {})", power_state_name(want()),
                       power_state_name(last_));
  }

  void poll() {
    step_ = Step::Poll;
    call(with_action(Action::Status), [self = shared_from_this()](Outcome st) {
      if (self->stopped()) return self->finish_cancelled(st);
      if (st.ok()) {
        self->last_ = st.state;
        if (st.state != PowerState::On) self->seen_not_on_ = true;
        if (st.state == self->want()) return self->reached();
        // On/off are idempotent: when the request (not only its reply) was lost, the state
        // still reads the opposite and sending it again is safe.  A few times at most.
        const bool opposite = (self->act_ == Action::On && st.state == PowerState::Off) ||
                              (self->act_ == Action::Off && st.state == PowerState::On);
        if (self->lost_reply_ && opposite && self->resends_ < 2) {
          ++self->resends_;
          self->lost_reply_ = false;
          return self->send_action();
        }
      }
      self->schedule_poll();
    });
  }

  void reached() {
    // A cycle or reset whose reply was lost was never re-sent; the power reading on afterwards
    // proves nothing (the request may never have reached the BMC): say so rather than succeed.
    if (lost_reply_ && ((act_ == Action::Cycle && !seen_not_on_) || act_ == Action::Reset)) {
      auto out = Outcome::failure(
          ErrorKind::Timeout,
          fmt::format("{} not confirmed: {}; the power reads on{} and the request was not re-sent "
                      "(the BMC may or may not have acted)",
                      action_name(act_), lost_reason_, act_ == Action::Cycle ? " and was never seen off" : ""));
      out.state = want();
      return finish(std::move(out));
    }
    std::string r = std::string(power_state_name(want()));
    if (forced_) r += fmt::format(" (forced after {})", format_duration(*o_.then_force));
    else if (act_ == Action::Cycle) r = seen_not_on_ ? "on (cycled)" : "on (cycle accepted; off not observed)";
    else if (act_ == Action::Reset) r = "on (reset)";
    r += note_;
    auto out = Outcome::success(r, want());
    if (lost_reply_) out.facts.emplace_back("note", "the BMC's reply was lost; the state was confirmed by reading it");
    if (resends_) out.facts.emplace_back("resent", fmt::format("{} sent again {} time(s): the state still read the opposite", action_name(act_), resends_));
    finish(std::move(out));
  }

  void on_wait_expired() {
    if (act_ == Action::Soft && o_.then_force && !forced_) {
      forced_ = true;
      forced_at_ = Clock::now();
      step_ = Step::ForceOff;
      poll_delay_ = o_.poll_initial;
      call(with_action(Action::Off), [self = shared_from_this()](Outcome out) {
        if (self->stopped()) return self->finish_cancelled(out);
        if (!out.ok() && !is_transport_failure(out)) return self->finish(std::move(out));
        self->schedule_poll();
      });
      return;
    }
    if (lost_reply_ && last_ == PowerState::Unknown)
      return finish(Outcome::failure(ErrorKind::Timeout, lost_reason_ + "; the state could not be confirmed"));
    auto out = Outcome::failure(ErrorKind::Timeout, waiting_what());
    out.state = last_;
    finish(std::move(out));
  }

  bool stopped() const { return ctx_->cancelled != asio::cancellation_type::none; }
  void set_waiting(bool w) {
    if (ctx_->set_waiting) ctx_->set_waiting(w);
  }
  void resume(std::function<void()> next) {
    if (ctx_->resume) return ctx_->resume(std::move(next));
    set_waiting(false);
    next();
  }

  void finish_cancelled(Outcome o) {
    if (o.ok()) return finish(std::move(o));
    if (o.reason.empty()) o.reason = waiting_what();
    finish(std::move(o));
  }

  void finish(Outcome o) {
    if (step_ == Step::Done) return;
    step_ = Step::Done;
    timer_.cancel();
    o.retransmits = retransmits_;
    if (initial_ != PowerState::Unknown) o.facts.emplace_back("initial_state", std::string(power_state_name(initial_)));
    auto d = std::move(done_);
    d(std::move(o));
  }

  std::shared_ptr<JobContext> ctx_;
  FleetOptions o_;
  CompletionFn done_;
  asio::steady_timer timer_;
  Step step_ = Step::ReadState;
  Action act_ = Action::Status;
  PowerState initial_ = PowerState::Unknown;
  PowerState last_ = PowerState::Unknown;
  Clock::time_point started_, acted_at_, forced_at_;
  Millis poll_delay_{o_.poll_initial};
  bool lost_reply_ = false;
  int resends_ = 0;  ///< on/off sent again after a lost request (state read the opposite)
  bool forced_ = false;
  bool seen_not_on_ = false;
  std::string lost_reason_;
  std::string note_;
  int retransmits_ = 0;
  bool first_call_ = true;
  std::shared_ptr<PowerGovernor::Ticket> ticket_;
};

/// Actions that change something on the BMC besides power (read-only ones are excluded).
bool changes_target(Action a) {
  return a == Action::Nmi || a == Action::BootDev || a == Action::Identify;
}

std::string dry_run_phrase(const Request& r) {
  switch (r.action) {
    case Action::Nmi: return "would send a diagnostic interrupt (NMI)";
    case Action::BootDev:
      return fmt::format("would set boot device {} ({}{})", boot_device_name(r.bootdev),
                         r.persistent ? "persistent" : "once", r.efi ? ", EFI" : "");
    case Action::Identify:
      if (r.identify_seconds < 0) return "would turn identify off";
      if (r.identify_seconds == 0) return "would turn identify on";
      return fmt::format("would turn identify on for {} s", r.identify_seconds);
    default: return "would act";
  }
}

}  // namespace

Millis fleet_job_timeout(Action a, const FleetOptions& o) {
  if (!is_power_action(a)) return o.op_timeout;
  Millis t = 2 * o.op_timeout;  // read state + act
  if (o.dry_run) return o.op_timeout;
  if (o.wait) {
    t += (a == Action::Soft ? (o.then_force ? *o.then_force + o.wait_timeout : o.soft_wait_timeout) : o.wait_timeout);
    t += o.op_timeout;  // the last poll
  } else if (a == Action::Soft && o.then_force) {
    t += *o.then_force + o.wait_timeout;
  }
  return t;
}

Runner make_fleet_runner(FleetOptions o) {
  return [o](std::shared_ptr<JobContext> ctx, CompletionFn done) {
    if (!is_power_action(ctx->request.action)) {
      if (o.dry_run && changes_target(ctx->request.action)) {
        // nmi, bootdev, identify under --dry-run: prove the BMC answers (a status read)
        // and say what would be sent; the action itself is never sent.
        Request read = ctx->request;
        read.action = Action::Status;
        std::string what = dry_run_phrase(ctx->request);
        ctx->backend->start(OpContext{ctx->target, *ctx->credential, read, ctx->deadline, ctx->cancel},
                            [done = std::move(done), what](Outcome out) mutable {
                              if (out.ok()) out = Outcome::success(what, out.state);
                              else out.reason = "reading the power state: " + out.reason;
                              done(std::move(out));
                            });
        return;
      }
      ctx->backend->start(OpContext{ctx->target, *ctx->credential, ctx->request, ctx->deadline, ctx->cancel},
                          std::move(done));
      return;
    }
    auto op = std::make_shared<Operation>(ctx, o, std::move(done));
    op->begin();
  };
}

}  // namespace fleetpower
