// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/redfish/engine.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

#include "plugin/registry.hpp"

namespace fleetpower::redfish {

namespace asio = boost::asio;
using boost::system::error_code;

std::optional<AuthMode> parse_auth_mode(std::string_view s) {
  if (s.empty() || s == "auto") return AuthMode::Auto;
  if (s == "session") return AuthMode::Session;
  if (s == "basic") return AuthMode::Basic;
  return std::nullopt;
}

namespace {

/// What the engine last asked the BMC for.  Timeouts and failures name it.
enum class Step : std::uint8_t {
  Start,
  GetRoot,
  Login,
  GetSystems,
  GetSystem,
  GetActionInfo,
  Reset,
  PollTask,
  WaitOff,
  GetManagers,
  GetManager,
  PatchBoot,
  ConfirmBoot,
  PatchIndicator,
  GetChassis,
  GetPowerReading,
  GetPowerSubsystem,
  GetPowerSupplies,
  GetPowerSupply,
  GetPowerSupplyMetrics,
  BusyWait,
  ReadAfter,
};

std::string_view step_text(Step s) {
  switch (s) {
    case Step::Start:
      return "the start";
    case Step::GetRoot:
      return "the service root";
    case Step::Login:
      return "the session login";
    case Step::GetSystems:
      return "the Systems collection";
    case Step::GetSystem:
      return "the system resource";
    case Step::GetActionInfo:
      return "the reset ActionInfo";
    case Step::Reset:
      return "the reset request";
    case Step::PollTask:
      return "the task monitor";
    case Step::WaitOff:
      return "the system to power off";
    case Step::GetManagers:
      return "the Managers collection";
    case Step::GetManager:
      return "the manager resource";
    case Step::PatchBoot:
      return "the boot override PATCH";
    case Step::ConfirmBoot:
      return "the boot override read-back";
    case Step::PatchIndicator:
      return "the indicator PATCH";
    case Step::GetChassis:
      return "the chassis resource";
    case Step::GetPowerReading:
      return "the chassis power reading";
    case Step::GetPowerSubsystem:
      return "the PowerSubsystem resource";
    case Step::GetPowerSupplies:
      return "the PowerSupplies collection";
    case Step::GetPowerSupply:
      return "a PowerSupply resource";
    case Step::GetPowerSupplyMetrics:
      return "a power supply's metrics";
    case Step::BusyWait:
      return "the BMC to stop being busy";
    case Step::ReadAfter:
      return "the power state after the reset";
  }
  return "?";
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& e : v) s += (s.empty() ? "" : ",") + e;
  return s;
}

std::string toggle_weak(const std::string& etag) {
  if (etag.rfind("W/", 0) == 0) return etag.substr(2);
  return "W/" + etag;
}

class Operation : public std::enable_shared_from_this<Operation> {
 public:
  Operation(asio::any_io_executor ex, std::shared_ptr<HttpEndpoint> ep,
            std::shared_ptr<BmcState> st, const OpContext& ctx, const Options& opts,
            CompletionFn done)
      : ex_(std::move(ex)),
        ep_(std::move(ep)),
        st_(std::move(st)),
        target_(ctx.target),
        cred_(ctx.credential),
        req_(ctx.request),
        deadline_(ctx.deadline),
        cancel_(ctx.cancel),
        opts_(opts),
        done_(std::move(done)),
        timer_(ex_),
        deadline_timer_(ex_) {
    limits_.max_bytes = opts_.max_body_bytes;
    limits_.max_depth = opts_.max_json_depth;
  }

  void start() {
    started_ = Clock::now();
    ++st_->active_ops;
    if (st_->linger) st_->linger->cancel();
    auto mode = parse_auth_mode(target_.var_or("auth", "auto"));
    if (!mode)
      return finish(
          Outcome::failure(ErrorKind::Config, "inventory key auth must be session, basic or auto"));
    auth_ = *mode;
    if (cred_.username.empty())
      return finish(Outcome::failure(ErrorKind::Config, "no Redfish user name in the credentials"));
    if (cancel_.is_connected()) {
      std::weak_ptr<Operation> w = weak_from_this();
      cancel_.assign([w](asio::cancellation_type t) {
        if (auto self = w.lock()) self->on_cancel(t);
      });
    }
    deadline_timer_.expires_at(deadline_);
    deadline_timer_.async_wait([w = weak_from_this()](error_code ec) {
      if (ec) return;
      if (auto self = w.lock()) self->on_cancel(asio::cancellation_type::total);
    });
    get_root();
  }

 private:
  // -- completion & cancellation ---------------------------------------------------------------
  void finish(Outcome o) {
    if (finished_) return;
    // The reset was accepted; only the read after it failed (or ran out of time): the action
    // stands, and the fleet layer verifies by polling.
    if (step_ == Step::ReadAfter && !o.ok()) o = reset_accepted();
    finished_ = true;
    timer_.cancel();
    deadline_timer_.cancel();
    if (cancel_.is_connected()) cancel_.clear();
    if (in_flight_) inner_.emit(asio::cancellation_type::terminal);
    inner_.slot().clear();   // a handler left installed there could hold this operation
    login_done();            // waiters must not wait for a login this operation abandoned
    after_login_ = nullptr;  // it may hold this operation: break the cycle
    o.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - started_);
    if (--st_->active_ops < 0) st_->active_ops = 0;
    // The session is closed when no operation on this BMC is left once `done` has run (the
    // scheduler may start the next operation on this BMC from inside `done` or right after).
    asio::post(ex_, [done = std::move(done_), o = std::move(o), ex = ex_, ep = ep_, st = st_,
                     opts = opts_]() mutable {
      done(std::move(o));
      // One more hop: a scheduler that posts its own completion starts the next operation on
      // this BMC from there, and that operation reuses the session.
      asio::post(ex, [ex, ep, st, linger = opts.session_linger] {
        if (st->active_ops != 0 || st->token.empty()) return;
        // At the global connection cap, log out now on the warm connection (which is then
        // handed on): a lingering session could not be closed later without a new connection.
        if (linger <= Millis(0) || ep->crowded()) return logout(ex, ep, st, Millis(2000));
        if (!st->linger) st->linger = std::make_unique<asio::steady_timer>(ex);
        st->linger->expires_after(linger);
        st->linger->async_wait([ex, ep, st](error_code ec) {
          if (!ec && st->active_ops == 0 && !st->token.empty()) logout(ex, ep, st, Millis(2000));
        });
      });
    });
  }

  void on_cancel(asio::cancellation_type t) {
    if (finished_) return;
    interrupted_ = (t & asio::cancellation_type::terminal) != asio::cancellation_type::none;
    cancel_requested_ = true;
    if (in_flight_) {
      inner_.emit(asio::cancellation_type::terminal);  // the handler finishes with the wire step
      return;
    }
    finish(cancel_outcome(std::nullopt));
  }

  Outcome cancel_outcome(std::optional<WireStep> wire) {
    std::string what;
    if (!wire || *wire == WireStep::Send || *wire == WireStep::Receive)
      what = (step_ == Step::WaitOff || step_ == Step::BusyWait || step_ == Step::PollTask)
                 ? std::string(step_text(step_))
                 : "the reply to " + std::string(step_text(step_));
    else
      what = std::string(wire_step_text(*wire)) + " (" + std::string(step_text(step_)) + ")";
    if (interrupted_) return Outcome::failure(ErrorKind::Interrupted, "while waiting for " + what);
    ErrorKind k = (wire && (*wire == WireStep::Connect || *wire == WireStep::Resolve) && !answered_)
                      ? ErrorKind::NoResponse
                      : ErrorKind::Timeout;
    return Outcome::failure(k, "timed out waiting for " + what);
  }

  // -- requests --------------------------------------------------------------------------------
  using RespFn = void (Operation::*)(HttpResponse&);

  void add_auth(HttpRequest& r) {
    if (!st_->token.empty() && !use_basic())
      r.headers.emplace_back("X-Auth-Token", st_->token);
    else if (use_basic())
      r.headers.emplace_back("Authorization",
                             "Basic " + base64(cred_.username + ":" + cred_.password.reveal()));
  }
  bool use_basic() const {
    return auth_ == AuthMode::Basic || (auth_ == AuthMode::Auto && st_->basic_fallback);
  }

  void send(Step s, Method m, std::string target, std::string body, RespFn fn,
            std::string if_match = {}, bool with_auth = true) {
    step_ = s;
    pending_ = {m, std::move(target), std::move(body), std::move(if_match), fn, with_auth};
    busy_tries_ = 0;
    reauthed_ = false;
    transmit();
  }

  void transmit() {
    if (finished_) return;
    if (Clock::now() >= deadline_) return finish(cancel_outcome(std::nullopt));
    HttpRequest r;
    r.method = pending_.method;
    r.target = pending_.target;
    r.body = pending_.body;
    if (auto* h = hooks()) {
      plugin::RedfishRequestView view{step_text(step_), std::string(method_name(r.method)), r.target, r.body};
      h->redfish_request(view);
      for (Method m : {Method::Get, Method::Post, Method::Patch, Method::Delete})
        if (view.method == method_name(m)) r.method = m;
      r.target = std::move(view.path);
      r.body = std::move(view.body);
    }
    if (pending_.with_auth) add_auth(r);
    r.repeatable = step_ == Step::Login;  // a second login only leaves one more session
    if (!pending_.if_match.empty()) r.headers.emplace_back("If-Match", pending_.if_match);
    in_flight_ = true;
    sent_token_ = use_basic() ? std::string() : st_->token;
    ep_->request(std::move(r), deadline_, inner_.slot(),
                 [self = shared_from_this()](HttpResult res) { self->on_result(std::move(res)); });
  }

  void on_result(HttpResult res) {
    in_flight_ = false;
    if (finished_) return;
    if (res.cancelled || cancel_requested_) return finish(cancel_outcome(res.step));
    if (res.error != ErrorKind::None && transport_retry(res)) return;
    if (res.error != ErrorKind::None) {
      Outcome o = Outcome::failure(res.error, res.reason);
      if (res.error == ErrorKind::Timeout &&
          (res.step == WireStep::Receive || res.step == WireStep::Send))
        o.reason = "timed out waiting for the reply to " + std::string(step_text(step_));
      else if (res.error != ErrorKind::Tls)
        o.reason += " (" + std::string(step_text(step_)) + ")";
      if (transport_tries_ > 0)
        o.reason += ", after " + std::to_string(transport_tries_) + " retries";
      if (res.error == ErrorKind::Tls) add_fp(o);
      return finish(std::move(o));
    }
    answered_ = true;
    auto& resp = res.response;
    if (auto* h = hooks()) {
      int status = static_cast<int>(resp.status);
      h->redfish_response(step_text(step_), status, resp.body);
      resp.status = static_cast<decltype(resp.status)>(status);
    }
    if (prof_->success_in_error_envelope && resp.status >= 400 && resp.status < 500 &&
        is_success_envelope(resp.body, limits_))
      resp.status = 200;
    if (resp.status == 401 && pending_.with_auth && pending_.target != session_path()) {
      // The session may have expired or been dropped: log in again, once.
      if (!reauthed_ && !use_basic()) {
        // Drop the token only if nobody has replaced it meanwhile.
        if (!st_->token.empty() && st_->token == sent_token_) {
          st_->token.clear();
          st_->session_uri.clear();
        }
        auto saved = pending_;
        auto saved_step = step_;
        auto resume = [self = shared_from_this(), saved, saved_step] {
          self->pending_ = saved;
          self->step_ = saved_step;
          self->reauthed_ = true;
          self->transmit();
        };
        if (!st_->token.empty()) return resume();
        return login(std::move(resume));
      }
      return finish(http_failure(resp, "authentication failed"));
    }
    if (resp.status == 503 && busy_tries_ < opts_.busy_retries) {
      ++busy_tries_;
      auto wait = Millis(1000);
      if (auto ra = parse_retry_after(resp.retry_after)) wait = Millis(std::min(*ra, 30) * 1000);
      auto saved = step_;
      if (Clock::now() + wait >= deadline_) return finish(http_failure(resp, "BMC busy"));
      step_ = Step::BusyWait;
      return after(wait, [saved](Operation& op) {
        op.step_ = saved;
        op.transmit();
      });
    }
    if (resp.status == 503) return finish(http_failure(resp, "BMC busy"));
    (this->*pending_.fn)(resp);
  }

  /// A lost connection, a connect or TLS handshake that timed out or was cut: on a lossy
  /// network these are transient.  Try again (a few times, within the deadline) when the
  /// request cannot have been carried out (it never left: connect/handshake) or may run twice
  /// (GET, DELETE).  A Reset POST or a PATCH that was sent is never re-sent.
  bool transport_retry(const HttpResult& res) {
    const bool transient = res.error == ErrorKind::Connection || res.error == ErrorKind::Timeout ||
                           res.error == ErrorKind::NoResponse;
    if (!transient || transport_tries_ >= 3) return false;
    if (res.reason.find("refused") != std::string::npos) return false;  // nothing listens
    const bool unsent = res.step == WireStep::Queue || res.step == WireStep::Resolve ||
                        res.step == WireStep::Connect || res.step == WireStep::Handshake;
    const bool repeatable = pending_.method == Method::Get ||
                            pending_.method == Method::Delete || step_ == Step::Login;
    if (!unsent && !repeatable) return false;
    const Millis pause(200 * (transport_tries_ + 1));
    if (Clock::now() + pause + Millis(500) >= deadline_) return false;
    ++transport_tries_;
    after(pause, [](Operation& op) { op.transmit(); });
    return true;
  }

  template <class F>
  void after(Millis d, F f) {
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this(), f](error_code ec) {
      if (ec || self->finished_) return;
      f(*self);
    });
  }

  void add_fp(Outcome& o) {
    auto fp = ep_->peer_fingerprint();
    if (!fp.empty()) o.facts.emplace_back("tls_fingerprint", fp);
  }

  Outcome http_failure(const HttpResponse& resp, std::string what) {
    ErrorKind k = ErrorKind::BmcError;
    if (resp.status == 401)
      k = ErrorKind::Auth;
    else if (resp.status == 403)
      k = ErrorKind::Privilege;
    else if (resp.status == 503)
      k = ErrorKind::Busy;
    std::string msg = error_message(resp.body, limits_);
    std::string r = std::move(what) + " (HTTP " + std::to_string(resp.status) + ")";
    if (resp.status == 503 && busy_tries_ > 0)
      r += " after " + std::to_string(busy_tries_) + " retries";
    if (!msg.empty()) r += ": " + msg;
    return Outcome::failure(k, std::move(r));
  }

  bool ok_status(unsigned s) const { return s == 200 || s == 201 || s == 202 || s == 204; }

  bool parse_body(const HttpResponse& resp, json::value& v) {
    std::string err;
    if (parse_json(resp.body, limits_, v, &err)) return true;
    finish(Outcome::failure(ErrorKind::Protocol, err + " in " + std::string(step_text(step_))));
    return false;
  }

  // -- discovery -------------------------------------------------------------------------------
  void get_root() {
    if (st_->root) return resolve_plugin() ? auth() : void();
    send(Step::GetRoot, Method::Get, "/redfish/v1/", {}, &Operation::on_root, {}, false);
  }
  void on_root(HttpResponse& resp) {
    if (resp.status == 401 && !pending_.with_auth) {
      // A service root behind authentication (not per spec, but seen): try again with Basic.
      pending_.with_auth = true;
      st_->basic_fallback = st_->basic_fallback || auth_ == AuthMode::Auto;
      return transmit();
    }
    if (resp.status != 200) return finish(http_failure(resp, "service root unavailable"));
    json::value v;
    if (!parse_body(resp, v)) return;
    ServiceRoot root;
    std::string err;
    if (!parse_service_root(v, root, &err))
      return finish(Outcome::failure(ErrorKind::Protocol, err));
    st_->root = std::move(root);
    if (resolve_plugin()) auth();
  }

  // -- vendor plugin ---------------------------------------------------------------------------
  plugin::Hooks* hooks() const { return plugin_ && plugin_->hooks ? plugin_->hooks.get() : nullptr; }
  void set_plugin(const plugin::Plugin* p) {
    plugin_ = p;
    prof_ = p ? &p->profile.redfish : &default_profile();
  }
  static const plugin::RedfishProfile& default_profile() {
    static const plugin::RedfishProfile k;
    return k;
  }
  plugin::RedfishIdentity identity(const ManagerInfo* m) const {
    plugin::RedfishIdentity id;
    id.vendor = st_->root->vendor;
    id.product = st_->root->product;
    id.oem_keys = st_->root->oem_keys;
    if (m) {
      id.have_manager = true;
      id.manager_model = m->model;
      id.manager_firmware = m->firmware;
      id.manager_manufacturer = m->manufacturer;
    }
    return id;
  }
  /// The plugin named by the inventory, or the one detected from the service root; detection
  /// that needs the Manager is finished after the system has been read.  False: finished.
  bool resolve_plugin() {
    const plugin::Registry* reg = opts_.plugins.get();
    if (!reg) return true;
    const std::string& v = target_.vendor;
    if (!v.empty() && v != "auto") {
      std::string err;
      auto* p = reg->select(v, plugin::Transport::Redfish, &err);
      if (!p) {
        finish(Outcome::failure(ErrorKind::Config, err));
        return false;
      }
      set_plugin(p);
      return true;
    }
    if (st_->detected) {
      set_plugin(st_->detected);
      return true;
    }
    auto id = identity(nullptr);
    if (reg->redfish_needs_manager(id)) {
      detect_pending_ = true;
      return true;
    }
    st_->detected = reg->detect(id);
    set_plugin(st_->detected);
    return true;
  }
  void on_detect_manager(const ManagerInfo* m) {
    detect_pending_ = false;
    after_manager_ = &Operation::probe_result;
    st_->detected = opts_.plugins->detect(identity(m));
    set_plugin(st_->detected);
    dispatch_system();
  }

  std::string session_path() const {
    if (!st_->root) return {};
    if (!st_->root->sessions.empty()) return st_->root->sessions;
    if (!st_->root->session_service.empty()) {
      std::string p = st_->root->session_service;
      while (!p.empty() && p.back() == '/') p.pop_back();
      return p + "/Sessions";
    }
    return {};
  }

  void auth() {
    if (use_basic()) return get_systems();
    if (!st_->token.empty() && st_->token_user == cred_.username) return get_systems();
    login([self = shared_from_this()] { self->get_systems(); });
  }

  /// Creates a session (or waits for the one being created) and then calls `next`.
  void login(std::function<void()> next) {
    if (st_->logging_in) {
      step_ = Step::Login;
      st_->login_waiters.push_back([w = weak_from_this(), next = std::move(next)] {
        auto self = w.lock();
        if (!self || self->finished_) return;
        // The other login failed or was abandoned: try ourselves.
        if (self->st_->token.empty() && !self->use_basic()) return self->login(std::move(next));
        next();
      });
      return;
    }
    std::string path = session_path();
    if (path.empty()) {
      if (auth_ == AuthMode::Session)
        return finish(Outcome::failure(ErrorKind::Unsupported,
                                       "the BMC offers no SessionService (try auth: basic)"));
      st_->basic_fallback = true;
      return next();
    }
    st_->logging_in = true;
    my_login_ = true;
    after_login_ = std::move(next);
    json::object body;
    body["UserName"] = cred_.username;
    body["Password"] = cred_.password.reveal();
    std::string text = json::serialize(body);
    send(Step::Login, Method::Post, path, std::move(text), &Operation::on_login, {}, false);
  }

  void login_done() {
    if (!my_login_) return;
    my_login_ = false;
    st_->logging_in = false;
    auto waiters = std::move(st_->login_waiters);
    st_->login_waiters.clear();
    for (auto& w : waiters) asio::post(ex_, std::move(w));
  }

  void on_login(HttpResponse& resp) {
    // The request body held the password: do not keep it around.
    std::fill(pending_.body.begin(), pending_.body.end(), '\0');
    pending_.body.clear();
    if (resp.status == 200 || resp.status == 201) {
      if (resp.auth_token.empty()) {
        login_done();
        if (auth_ == AuthMode::Auto) {
          st_->basic_fallback = true;
          return std::exchange(after_login_, {})();
        }
        return finish(
            Outcome::failure(ErrorKind::Protocol, "session login answered without X-Auth-Token"));
      }
      st_->token = resp.auth_token;
      st_->token_user = cred_.username;
      st_->session_uri = resp.location;
      if (st_->session_uri.empty()) {
        json::value v;
        if (parse_json(resp.body, limits_, v, nullptr))
          if (auto* o = v.if_object())
            if (auto s = get_string(*o, "@odata.id")) st_->session_uri = *s;
      }
      // Location may be absolute (https://host/redfish/v1/...): keep the path.
      if (auto p = st_->session_uri.find("://"); p != std::string::npos) {
        auto slash = st_->session_uri.find('/', p + 3);
        st_->session_uri = slash == std::string::npos ? "" : st_->session_uri.substr(slash);
      }
      login_done();
      return std::exchange(after_login_, {})();
    }
    login_done();
    if (auth_ == AuthMode::Auto &&
        (resp.status == 404 || resp.status == 405 || resp.status == 501)) {
      st_->basic_fallback = true;
      return std::exchange(after_login_, {})();
    }
    if (resp.status == 400 || resp.status == 401 || resp.status == 403) {
      Outcome o = http_failure(resp, "session login refused (check user name and password)");
      o.error = ErrorKind::Auth;
      return finish(std::move(o));
    }
    finish(http_failure(resp, "session login failed"));
  }

  void get_systems() {
    if (!target_.var("system") && !prof_->system_path.empty() && !hint_failed_ && !st_->systems) {
      // The vendor's well-known system path saves the collection round trip.
      system_path_ = prof_->system_path;
      hint_try_ = true;
      return get_system();
    }
    if (st_->systems) return select();
    send(Step::GetSystems, Method::Get, st_->root->systems, {}, &Operation::on_systems);
  }
  void on_systems(HttpResponse& resp) {
    if (resp.status != 200) return finish(http_failure(resp, "cannot list systems"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::vector<std::string> members;
    std::string err;
    if (!parse_collection(v, members, &err))
      return finish(Outcome::failure(ErrorKind::Protocol, err));
    st_->systems = std::move(members);
    select();
  }

  void select() {
    std::string err;
    if (!select_system(*st_->systems, target_.var("system"), system_path_, &err))
      return finish(Outcome::failure(ErrorKind::Config, err));
    get_system();
  }

  void get_system(Step s = Step::GetSystem) {
    send(s, Method::Get, system_path_, {}, &Operation::on_system);
  }
  void on_system(HttpResponse& resp) {
    if (hint_try_ && step_ == Step::GetSystem && (resp.status == 404 || resp.status == 400)) {
      hint_try_ = false;
      hint_failed_ = true;
      return get_systems();
    }
    hint_try_ = false;
    if (resp.status != 200) return finish(http_failure(resp, "cannot read the system"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::string err;
    sys_ = {};
    sys_.path = system_path_;
    if (!parse_system(v, sys_, &err)) return finish(Outcome::failure(ErrorKind::Protocol, err));
    sys_etag_ = resp.etag.empty() ? sys_.odata_etag : resp.etag;
    if (sys_.state == PowerState::Unknown)
      if (auto* h = hooks())
        if (auto mapped = h->redfish_power_state(sys_.raw_power_state)) sys_.state = *mapped;
    if (step_ == Step::WaitOff) return on_wait_off();
    if (step_ == Step::ReadAfter) return on_read_after();
    if (step_ == Step::ConfirmBoot) return on_confirm_boot(v);
    if (detect_pending_) {
      after_manager_ = &Operation::on_detect_manager;
      return probe();
    }
    dispatch_system();
  }

  void dispatch_system() {
    switch (req_.action) {
      case Action::Status:
        return status_result();
      case Action::BootDev:
        return patch_boot();
      case Action::Identify:
        return patch_indicator();
      case Action::PowerReading:
        return power_reading();
      case Action::Probe:
      default:
        return get_allowed();
    }
  }

  void status_result() {
    if (sys_.state == PowerState::Unknown)
      return finish(Outcome::failure(ErrorKind::Protocol,
                                     sys_.raw_power_state.empty()
                                         ? "the system resource has no PowerState"
                                         : "unknown PowerState \"" + sys_.raw_power_state + "\""));
    finish(Outcome::success(std::string(power_state_name(sys_.state)), sys_.state));
  }

  void get_allowed() {
    if (sys_.reset_target.empty() && req_.action != Action::Probe)
      return finish(Outcome::failure(ErrorKind::Unsupported,
                                     "the system has no #ComputerSystem.Reset action"));
    allowed_ = sys_.reset_allowed;
    if (allowed_ || sys_.reset_action_info.empty()) return act();
    if (auto it = st_->action_info.find(sys_.reset_action_info); it != st_->action_info.end()) {
      allowed_ = it->second;
      return act();
    }
    send(Step::GetActionInfo, Method::Get, sys_.reset_action_info, {}, &Operation::on_action_info);
  }
  void on_action_info(HttpResponse& resp) {
    // A missing or malformed ActionInfo leaves the list unknown: the BMC then validates.
    json::value v;
    std::vector<std::string> allowed;
    if (resp.status == 200 && parse_json(resp.body, limits_, v, nullptr) &&
        parse_reset_action_info(v, allowed, nullptr)) {
      st_->action_info[sys_.reset_action_info] = allowed;
      allowed_ = std::move(allowed);
    } else {
      list_malformed_ = true;
    }
    act();
  }

  // -- actions ---------------------------------------------------------------------------------
  void act() {
    const PowerState s = sys_.state;
    if (req_.action != Action::Probe) {
      if (prof_->ignore_allowed_values) allowed_.reset();
      else if (allowed_)
        if (auto* h = hooks()) h->redfish_allowed_reset_types(*allowed_);
    }
    switch (req_.action) {
      case Action::Probe:
        return probe();
      case Action::On:
        if (s == PowerState::On) return finish(Outcome::success("already on", s));
        break;
      case Action::Off:
      case Action::Soft:
        if (s == PowerState::Off) return finish(Outcome::success("already off", s));
        break;
      case Action::Cycle:
        if (s == PowerState::Off) {
          // Nothing to cycle: power it on.
          auto on = choose_on_type(allowed_, *prof_);
          if (!on) return unsupported("On");
          return post_reset(*on, &Operation::on_reset_done);
        }
        if (auto pc = choose_reset_type(Action::Cycle, allowed_, *prof_))
          return post_reset(*pc, &Operation::on_reset_done);
        cycle_emulated_ = true;
        {
          auto off = choose_reset_type(Action::Off, allowed_, *prof_);
          if (!off) return unsupported("ForceOff");
          if (allowed_ && !choose_on_type(allowed_, *prof_)) return unsupported("On");
          return post_reset(*off, &Operation::on_cycle_off_sent);
        }
      default:
        break;
    }
    auto type = choose_reset_type(req_.action, allowed_, *prof_);
    if (!type) return unsupported(std::string(action_name(req_.action)));
    if (*type == "GracefulRestart" && prof_->graceful_restart == plugin::GracefulRestartMode::ShutdownWaitOn) {
      // This firmware's GracefulRestart is not graceful: shut down, wait for Off, power on.
      restart_emulated_ = true;
      return post_reset("GracefulShutdown", &Operation::on_cycle_off_sent);
    }
    post_reset(*type, &Operation::on_reset_done);
  }

  void unsupported(const std::string& what) {
    std::string r = "reset type for " + what + " not allowed by the BMC";
    if (allowed_) r += " (allowed: " + join(*allowed_) + ")";
    finish(Outcome::failure(ErrorKind::Unsupported, std::move(r)));
  }

  void post_reset(const std::string& type, void (Operation::*next)()) {
    reset_type_ = type;
    after_reset_ = next;
    json::object body;
    body["ResetType"] = type;
    send(Step::Reset, Method::Post, sys_.reset_target, json::serialize(body), &Operation::on_reset);
  }
  void on_reset(HttpResponse& resp) {
    if (!ok_status(resp.status))
      return finish(http_failure(resp, "reset " + reset_type_ + " refused"));
    if (resp.status == 202 && !resp.location.empty())
      return poll_task(resp.location, resp.retry_after);
    (this->*after_reset_)();
  }

  void poll_task(std::string location, const std::string& retry_after) {
    if (auto p = location.find("://"); p != std::string::npos) {
      auto slash = location.find('/', p + 3);
      location = slash == std::string::npos ? "/" : location.substr(slash);
    }
    task_uri_ = std::move(location);
    Millis wait = prof_->task_poll_interval.value_or(Millis(500));
    if (auto ra = parse_retry_after(retry_after)) wait = Millis(std::clamp(*ra, 0, 30) * 1000);
    step_ = Step::PollTask;
    if (Clock::now() + wait >= deadline_)
      wait = std::chrono::duration_cast<Millis>(deadline_ - Clock::now());
    after(wait, [](Operation& op) {
      op.send(Step::PollTask, Method::Get, op.task_uri_, {}, &Operation::on_task);
    });
  }
  void on_task(HttpResponse& resp) {
    if (resp.status == 202) return poll_task(task_uri_, resp.retry_after);
    if (!ok_status(resp.status)) return finish(http_failure(resp, "task failed"));
    json::value v;
    TaskInfo t;
    if (resp.status == 200 && parse_json(resp.body, limits_, v, nullptr) && parse_task(v, t)) {
      if (t.state == "Exception" || t.state == "Killed" || t.state == "Cancelled")
        return finish(Outcome::failure(
            ErrorKind::BmcError,
            "task " + t.state + (t.message.empty() ? std::string() : ": " + t.message)));
      if (t.state != "Completed") return poll_task(task_uri_, resp.retry_after);
    }
    (this->*after_reset_)();
  }

  Outcome reset_accepted() const {
    Outcome o = Outcome::success("ok");
    if (cycle_emulated_) o.facts.emplace_back("cycle", "emulated");
    if (restart_emulated_) o.facts.emplace_back("restart", "emulated (GracefulShutdown, On)");
    return o;
  }
  void on_reset_done() {
    // On and off: read the system once more on the warm connection; a node that switched at
    // once (a ForceOff, usually) is then verified without the fleet layer's first poll.
    if ((req_.action == Action::On || req_.action == Action::Off) && !cycle_emulated_ &&
        !restart_emulated_ && opts_.read_after_reset && req_.read_back &&
        deadline_ - Clock::now() > std::chrono::seconds(2))
      return get_system(Step::ReadAfter);
    finish(reset_accepted());
  }
  void on_read_after() {
    Outcome o = reset_accepted();
    o.state = sys_.state;
    if (sys_.state != PowerState::Unknown)
      o.facts.emplace_back("state_after", std::string(power_state_name(sys_.state)));
    finish(std::move(o));
  }

  void on_cycle_off_sent() {
    step_ = Step::WaitOff;
    after(poll_interval(), [](Operation& op) { op.get_system(Step::WaitOff); });
  }
  void on_wait_off() {
    if (sys_.state != PowerState::Off) {
      return after(poll_interval(), [](Operation& op) { op.get_system(Step::WaitOff); });
    }
    auto on = choose_on_type(allowed_, *prof_);
    post_reset(on ? *on : std::string("On"), &Operation::on_reset_done);
  }
  Millis poll_interval() const {
    return opts_.plugins ? prof_->poll_interval.value_or(opts_.cycle_off_poll) : opts_.cycle_off_poll;
  }

  // -- PATCH with the If-Match dance ---------------------------------------------------------
  void patch(Step s, std::string path, std::string body, std::string etag,
             void (Operation::*next)(HttpResponse&)) {
    patch_path_ = std::move(path);
    patch_body_ = std::move(body);
    patch_etag_ = std::move(etag);
    patch_try_ = 0;
    patch_step_ = s;
    after_patch_ = next;
    send(s, Method::Patch, patch_path_, patch_body_, &Operation::on_patch, patch_etag_);
  }
  void on_patch(HttpResponse& resp) {
    if (resp.status == 412 && !patch_etag_.empty() && patch_try_ < 2) {
      // ETag mismatch: some BMCs compare weak/strong literally; then try without If-Match.
      ++patch_try_;
      std::string im = patch_try_ == 1 ? toggle_weak(patch_etag_) : std::string();
      return send(patch_step_, Method::Patch, patch_path_, patch_body_, &Operation::on_patch, im);
    }
    if (resp.status == 428 && patch_try_ < 2 && patch_etag_.empty()) {
      // Precondition required but we had no ETag: read one and retry once.
      ++patch_try_;
      return send(patch_step_, Method::Get, patch_path_, {}, &Operation::on_patch_etag);
    }
    if (resp.status == 202 && !resp.location.empty()) {
      after_reset_ = &Operation::patch_task_done;
      patch_resp_ = resp;
      return poll_task(resp.location, resp.retry_after);
    }
    if (!ok_status(resp.status))
      return finish(http_failure(resp, std::string(step_text(patch_step_)) + " refused"));
    (this->*after_patch_)(resp);
  }
  void on_patch_etag(HttpResponse& resp) {
    json::value v;
    std::string etag = resp.etag;
    if (etag.empty() && parse_json(resp.body, limits_, v, nullptr))
      if (auto* o = v.if_object())
        if (auto s = get_string(*o, "@odata.etag")) etag = *s;
    patch_etag_ = etag;
    send(patch_step_, Method::Patch, patch_path_, patch_body_, &Operation::on_patch, etag);
  }
  void patch_task_done() { (this->*after_patch_)(patch_resp_); }

  // -- bootdev ---------------------------------------------------------------------------------
  void patch_boot() {
    const auto& bq = prof_->boot;
    const std::string who = plugin_ ? " (vendor plugin " + plugin_->desc.name + ")" : std::string();
    if (!bq.supported)
      return finish(Outcome::failure(ErrorKind::Unsupported, "this BMC has no boot override" + who));
    if (req_.persistent && !bq.continuous)
      return finish(Outcome::failure(ErrorKind::Unsupported,
                                     "this BMC does not support a persistent (Continuous) boot override" + who));
    if (std::find(bq.avoid_targets.begin(), bq.avoid_targets.end(), boot_target_name(req_.bootdev)) !=
        bq.avoid_targets.end())
      return finish(Outcome::failure(ErrorKind::Unsupported, "boot target " + std::string(boot_target_name(req_.bootdev)) +
                                                                 " is known not to work on this BMC" + who));
    if (!sys_.boot.present)
      return finish(Outcome::failure(ErrorKind::Unsupported, "the system has no Boot property"));
    std::string t(boot_target_name(req_.bootdev));
    if (req_.bootdev == BootDevice::None)
      return finish(Outcome::failure(ErrorKind::Config, "no boot device given"));
    auto& al = sys_.boot.allowed_targets;
    if (!al.empty() && std::find(al.begin(), al.end(), t) == al.end())
      return finish(Outcome::failure(
          ErrorKind::Unsupported,
          "boot target " + t + " not allowed by the BMC (allowed: " + join(al) + ")"));
    json::object boot;
    boot["BootSourceOverrideTarget"] = t;
    boot["BootSourceOverrideEnabled"] = req_.persistent ? "Continuous" : "Once";
    std::string mode = req_.efi ? std::string("UEFI") : bq.echo_mode ? sys_.boot.mode : std::string();
    if (!mode.empty()) boot["BootSourceOverrideMode"] = mode;
    json::object body;
    body["Boot"] = std::move(boot);
    const bool via_settings = !sys_.settings_path.empty() && bq.settings != plugin::SettingsMode::Never;
    std::string path = via_settings ? sys_.settings_path : sys_.path;
    std::string etag = via_settings ? sys_.settings_etag : sys_etag_;
    boot_target_ = t;
    boot_mode_ = mode;
    patch(Step::PatchBoot, std::move(path), json::serialize(body), std::move(etag),
          &Operation::on_boot_patched);
  }
  void on_boot_patched(HttpResponse&) {
    // Read back what the BMC now reports (the settings object when PATCHed through one).
    send(Step::ConfirmBoot, Method::Get, patch_path_, {}, &Operation::on_confirm_resp);
  }
  void on_confirm_resp(HttpResponse& resp) {
    if (resp.status != 200) return finish(http_failure(resp, "cannot read back the boot override"));
    json::value v;
    if (!parse_body(resp, v)) return;
    on_confirm_boot(v);
  }
  void on_confirm_boot(const json::value& v) {
    SystemInfo s;
    parse_system(v, s, nullptr);
    const std::string want_enabled = req_.persistent ? "Continuous" : "Once";
    std::string label = std::string(boot_device_name(req_.bootdev)) +
                        (req_.persistent ? " (persistent)" : " (once)");
    if (s.boot.present && !s.boot.target.empty() &&
        (s.boot.target != boot_target_ ||
         (!s.boot.enabled.empty() && s.boot.enabled != want_enabled)))
      return finish(Outcome::failure(
          ErrorKind::BmcError, "boot override not applied: the BMC reports " + s.boot.target + "/" +
                                   s.boot.enabled + " after the PATCH"));
    Outcome o = Outcome::success(label);
    if (!boot_mode_.empty()) o.facts.emplace_back("boot_mode", boot_mode_);
    if (!sys_.settings_path.empty() && prof_->boot.settings != plugin::SettingsMode::Never)
      o.facts.emplace_back("boot_settings", "pending (applied on reset)");
    finish(std::move(o));
  }

  // -- identify --------------------------------------------------------------------------------
  void patch_indicator() {
    const bool on = req_.identify_seconds >= 0;
    json::object body;
    if (sys_.location_indicator_active) {
      body["LocationIndicatorActive"] = on;
    } else if (sys_.indicator_led) {
      body["IndicatorLED"] = !on ? "Off" : (req_.identify_seconds == 0 ? "Lit" : "Blinking");
    } else {
      return finish(
          Outcome::failure(ErrorKind::Unsupported,
                           "the system has neither LocationIndicatorActive nor IndicatorLED"));
    }
    patch(Step::PatchIndicator, sys_.path, json::serialize(body), sys_etag_,
          &Operation::on_indicator_patched);
  }
  void on_indicator_patched(HttpResponse&) {
    finish(Outcome::success(req_.identify_seconds >= 0 ? "identify on" : "identify off"));
  }

  // -- power reading ---------------------------------------------------------------------------
  // System -> Links.Chassis[0] -> EnvironmentMetrics (PowerWatts.Reading), else Power
  // (PowerControl[].PowerConsumedWatts): whichever the BMC has, found by following links.
  void no_reading(std::string why) {
    Outcome o = Outcome::success("no reading (" + why + ")", sys_.state);
    o.reading_note = std::move(why);
    finish(std::move(o));
  }
  void power_reading() {
    if (sys_.chassis.empty()) return no_reading("the system links no Chassis");
    send(Step::GetChassis, Method::Get, sys_.chassis.front(), {}, &Operation::on_chassis);
  }
  void on_chassis(HttpResponse& resp) {
    if (resp.status != 200) return finish(http_failure(resp, "cannot read the chassis"));
    json::value v;
    if (!parse_body(resp, v)) return;
    ChassisPowerLinks links;
    std::string err;
    if (!parse_chassis_power_links(v, links, &err))
      return finish(Outcome::failure(ErrorKind::Protocol, err));
    power_sources_.clear();
    if (!links.environment_metrics.empty())
      power_sources_.emplace_back(links.environment_metrics, true);
    if (!links.power.empty()) power_sources_.emplace_back(links.power, false);
    power_subsystem_ = links.power_subsystem;
    if (power_sources_.empty() && power_subsystem_.empty())
      return no_reading("the chassis has no Power, EnvironmentMetrics or PowerSubsystem resource");
    power_source_idx_ = 0;
    next_power_source();
  }
  void next_power_source() {
    if (power_source_idx_ >= power_sources_.size()) {
      if (!power_subsystem_.empty())
        return send(Step::GetPowerSubsystem, Method::Get, std::exchange(power_subsystem_, {}), {},
                    &Operation::on_power_subsystem);
      return no_reading(power_why_.empty() ? "no power reading" : power_why_);
    }
    send(Step::GetPowerReading, Method::Get, power_sources_[power_source_idx_].first, {},
         &Operation::on_power_source);
  }
  void on_power_source(HttpResponse& resp) {
    const bool env = power_sources_[power_source_idx_].second;
    ++power_source_idx_;
    if (resp.status == 404) {
      power_why_ = std::string(env ? "EnvironmentMetrics" : "Power") + " resource not found";
      return next_power_source();
    }
    if (resp.status != 200) return finish(http_failure(resp, "cannot read the power reading"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::string why;
    auto w = env ? parse_environment_power(v, &why) : parse_power_consumed(v, &why);
    if (!w) {
      power_why_ = std::move(why);
      return next_power_source();
    }
    Outcome o = Outcome::success(format_reading(*w), sys_.state);
    o.watts = *w;
    o.facts.emplace_back("reading_source", env ? "EnvironmentMetrics" : "Power");
    finish(std::move(o));
  }
  // PowerSubsystem -> PowerSupplies -> each PowerSupply -> its Metrics: InputPowerWatts summed
  // over every supply (the draw at the inlets).  One supply without a reading: no reading (a
  // partial sum would undercount).
  void on_power_subsystem(HttpResponse& resp) {
    if (resp.status == 404) return no_reading("PowerSubsystem resource not found");
    if (resp.status != 200) return finish(http_failure(resp, "cannot read the PowerSubsystem"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::string link = parse_power_supplies_link(v);
    if (link.empty()) return no_reading("the PowerSubsystem has no PowerSupplies");
    send(Step::GetPowerSupplies, Method::Get, link, {}, &Operation::on_power_supplies);
  }
  void on_power_supplies(HttpResponse& resp) {
    if (resp.status != 200) return finish(http_failure(resp, "cannot list the power supplies"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::string err;
    if (!parse_collection(v, psus_, &err)) return finish(Outcome::failure(ErrorKind::Protocol, err));
    if (psus_.empty()) return no_reading("the PowerSubsystem lists no power supplies");
    if (psus_.size() > 64) return no_reading("the PowerSubsystem lists more than 64 power supplies");
    psu_idx_ = 0;
    psu_sum_ = 0;
    send(Step::GetPowerSupply, Method::Get, psus_[0], {}, &Operation::on_power_supply);
  }
  void on_power_supply(HttpResponse& resp) {
    if (resp.status != 200) return finish(http_failure(resp, "cannot read a power supply"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::string m = parse_power_supply_metrics_link(v);
    if (m.empty()) return no_reading("power supply " + psus_[psu_idx_] + " has no Metrics");
    send(Step::GetPowerSupplyMetrics, Method::Get, m, {}, &Operation::on_psu_metrics);
  }
  void on_psu_metrics(HttpResponse& resp) {
    if (resp.status != 200) return finish(http_failure(resp, "cannot read a power supply's metrics"));
    json::value v;
    if (!parse_body(resp, v)) return;
    std::string why;
    auto w = parse_psu_input_power(v, &why);
    if (!w) return no_reading(why + " (" + psus_[psu_idx_] + ")");
    psu_sum_ += *w;
    if (++psu_idx_ < psus_.size())
      return send(Step::GetPowerSupply, Method::Get, psus_[psu_idx_], {}, &Operation::on_power_supply);
    Outcome o = Outcome::success(format_reading(psu_sum_), sys_.state);
    o.watts = psu_sum_;
    o.facts.emplace_back("reading_source", "PowerSubsystem");
    o.facts.emplace_back("power_supplies", std::to_string(psus_.size()));
    finish(std::move(o));
  }
  static std::string format_reading(double w) {
    char buf[64];
    if (w == static_cast<double>(static_cast<long long>(w)))
      std::snprintf(buf, sizeof buf, "%lld W", static_cast<long long>(w));
    else
      std::snprintf(buf, sizeof buf, "%.1f W", w);
    return buf;
  }

  // -- probe -----------------------------------------------------------------------------------
  void probe() {
    std::string mgr = sys_.managed_by.empty() ? std::string() : sys_.managed_by.front();
    if (!mgr.empty()) return get_manager(mgr);
    if (st_->root->managers.empty()) return (this->*after_manager_)(nullptr);
    send(Step::GetManagers, Method::Get, st_->root->managers, {}, &Operation::on_managers);
  }
  void on_managers(HttpResponse& resp) {
    json::value v;
    std::vector<std::string> m;
    if (resp.status == 200 && parse_json(resp.body, limits_, v, nullptr) &&
        parse_collection(v, m, nullptr) && !m.empty())
      return get_manager(m.front());
    (this->*after_manager_)(nullptr);
  }
  void get_manager(const std::string& path) {
    manager_path_ = path;
    if (auto it = st_->managers.find(path); it != st_->managers.end())
      return (this->*after_manager_)(&it->second);
    send(Step::GetManager, Method::Get, path, {}, &Operation::on_manager);
  }
  void on_manager(HttpResponse& resp) {
    json::value v;
    ManagerInfo m;
    if (resp.status == 200 && parse_json(resp.body, limits_, v, nullptr) &&
        parse_manager(v, m, nullptr)) {
      auto& slot = st_->managers[manager_path_];
      slot = m;
      return (this->*after_manager_)(&slot);
    }
    (this->*after_manager_)(nullptr);
  }
  void probe_result(const ManagerInfo* m) {
    const auto& root = *st_->root;
    std::string vendor = detect_vendor(root, m);
    Outcome o = Outcome::success(vendor + (m && !m->model.empty() ? " (" + m->model + ")" : ""),
                                 sys_.state);
    o.facts.emplace_back("vendor", vendor);
    if (plugin_) o.facts.emplace_back("plugin", plugin_->desc.name);
    if (!root.vendor.empty()) o.facts.emplace_back("vendor_name", root.vendor);
    if (!root.product.empty()) o.facts.emplace_back("product", root.product);
    if (!root.redfish_version.empty())
      o.facts.emplace_back("redfish_version", root.redfish_version);
    if (m && !m->model.empty()) o.facts.emplace_back("manager_model", m->model);
    if (m && !m->firmware.empty()) o.facts.emplace_back("firmware", m->firmware);
    o.facts.emplace_back("system", sys_.id);
    o.facts.emplace_back("power_state", std::string(power_state_name(sys_.state)));
    if (allowed_)
      o.facts.emplace_back("reset_types", join(*allowed_));
    else
      o.facts.emplace_back("reset_types",
                           sys_.reset_list_malformed || list_malformed_ ? "malformed" : "unknown");
    o.facts.emplace_back("auth", use_basic() ? "basic" : "session");
    add_fp(o);
    finish(std::move(o));
  }

  struct Pending {
    Method method = Method::Get;
    std::string target, body, if_match;
    RespFn fn = nullptr;
    bool with_auth = true;
  };

  asio::any_io_executor ex_;
  std::shared_ptr<HttpEndpoint> ep_;
  std::shared_ptr<BmcState> st_;
  Target target_;
  Credential cred_;
  Request req_;
  Clock::time_point deadline_;
  asio::cancellation_slot cancel_;
  Options opts_;
  CompletionFn done_;
  asio::steady_timer timer_, deadline_timer_;
  asio::cancellation_signal inner_;
  ParseLimits limits_;
  AuthMode auth_ = AuthMode::Auto;
  Clock::time_point started_;
  Step step_ = Step::Start;
  Pending pending_;
  bool in_flight_ = false, finished_ = false, cancel_requested_ = false, interrupted_ = false;
  bool answered_ = false, reauthed_ = false, my_login_ = false;
  std::string sent_token_;
  int busy_tries_ = 0;
  int transport_tries_ = 0;
  std::function<void()> after_login_;
  std::string system_path_;
  SystemInfo sys_;
  std::string sys_etag_;
  std::optional<std::vector<std::string>> allowed_;
  bool list_malformed_ = false, cycle_emulated_ = false, restart_emulated_ = false;
  const plugin::Plugin* plugin_ = nullptr;
  const plugin::RedfishProfile* prof_ = &default_profile();
  bool detect_pending_ = false, hint_try_ = false, hint_failed_ = false;
  void (Operation::*after_manager_)(const ManagerInfo*) = &Operation::probe_result;
  std::string reset_type_, task_uri_;
  void (Operation::*after_reset_)() = nullptr;
  // PATCH state
  std::string patch_path_, patch_body_, patch_etag_;
  int patch_try_ = 0;
  Step patch_step_ = Step::PatchBoot;
  void (Operation::*after_patch_)(HttpResponse&) = nullptr;
  HttpResponse patch_resp_;
  std::string boot_target_, boot_mode_, manager_path_;
  // power reading: (path, is EnvironmentMetrics) in order of preference
  std::vector<std::pair<std::string, bool>> power_sources_;
  std::size_t power_source_idx_ = 0;
  std::string power_why_;
  std::string power_subsystem_;
  std::vector<std::string> psus_;
  std::size_t psu_idx_ = 0;
  double psu_sum_ = 0;
};

}  // namespace

void run_operation(asio::any_io_executor ex, std::shared_ptr<HttpEndpoint> ep,
                   std::shared_ptr<BmcState> st, OpContext ctx, const Options& opts,
                   CompletionFn done) {
  auto op = std::make_shared<Operation>(std::move(ex), std::move(ep), std::move(st), ctx, opts,
                                        std::move(done));
  op->start();
}

void logout(asio::any_io_executor ex, std::shared_ptr<HttpEndpoint> ep,
            std::shared_ptr<BmcState> st, Millis grace, std::function<void()> then) {
  std::string token = std::exchange(st->token, {});
  std::string uri = std::exchange(st->session_uri, {});
  st->token_user.clear();
  if (token.empty() || uri.empty()) {
    if (then) asio::post(ex, std::move(then));
    return;
  }
  HttpRequest r;
  r.method = Method::Delete;
  r.target = uri;
  r.headers.emplace_back("X-Auth-Token", token);
  ++st->logouts_pending;
  ep->request(std::move(r), Clock::now() + grace, {}, [then = std::move(then), st, ep](HttpResult) {
    if (--st->logouts_pending == 0 && st->close_after_logout && st->active_ops == 0) ep->close();
    if (then) then();
  });
}

}  // namespace fleetpower::redfish
