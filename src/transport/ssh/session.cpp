// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ssh/session.hpp"
#include "transport/ssh/libssh_api.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libssh/libssh.h>

#include <unistd.h>

#include <cstring>

namespace fleetpower::ssh {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// What the session is waiting for: named in every timeout (GUIDE: a timeout names its step).
enum class Step : std::uint8_t {
  Resolve,
  Connect,
  Handshake,
  Auth,
  OpenChannel,
  RequestPty,
  RequestShell,
  RequestExec,
  Prompt,
  Reply,
  Closing,
  Done,
};

/// Result of one non-blocking libssh call.
enum class Res : std::uint8_t { Again, Ok, Fail };

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::any_io_executor ex, SessionSpec spec, asio::cancellation_slot cancel,
          std::function<void(Outcome)> done, std::function<void()> released)
      : ex_(ex),
        spec_(std::move(spec)),
        cancel_(cancel),
        done_(std::move(done)),
        resolver_(ex),
        socket_(ex),
        sd_(ex),
        step_timer_(ex),
        repoll_timer_(ex),
        released_(std::move(released)) {}

  ~Session() { teardown(); }

  void begin() {
    started_ = Clock::now();
    if (cancel_.is_connected()) {
      cancel_.assign([w = weak_from_this()](asio::cancellation_type t) {
        if (auto self = w.lock()) self->on_cancel(t);
      });
    }
    asio::post(ex_, [self = shared_from_this()] { self->resolve(); });
  }

 private:
  // -- steps -----------------------------------------------------------------------------------

  void resolve() {
    if (finished_) return;
    error_code ec;
    auto addr = asio::ip::make_address(spec_.host, ec);
    if (!ec) return connect({asio::ip::tcp::endpoint(addr, spec_.port)});
    enter(Step::Resolve, spec_.limits.connect);
    resolver_.async_resolve(spec_.host, std::to_string(spec_.port),
                            [self = shared_from_this()](error_code e, asio::ip::tcp::resolver::results_type r) {
                              if (self->finished_) return;
                              if (e)
                                return self->fail(ErrorKind::Connection,
                                                  fmt::format("cannot resolve {}: {}", self->spec_.host, e.message()));
                              std::vector<asio::ip::tcp::endpoint> eps;
                              for (auto& x : r) eps.push_back(x.endpoint());
                              self->connect(std::move(eps));
                            });
  }

  void connect(std::vector<asio::ip::tcp::endpoint> eps) {
    enter(Step::Connect, spec_.limits.connect);
    asio::async_connect(socket_, eps, [self = shared_from_this()](error_code e, const asio::ip::tcp::endpoint&) {
      if (self->finished_) return;
      if (e) {
        if (e == asio::error::connection_refused)
          return self->fail(ErrorKind::Connection, fmt::format("connection refused by {}", self->where()));
        return self->fail(ErrorKind::Connection, fmt::format("cannot connect to {}: {}", self->where(), e.message()));
      }
      self->connected();
    });
  }

  void connected() {
    answered_ = true;
    s_ = sshlib().ssh_new();
    if (!s_) return fail(ErrorKind::Internal, "ssh_new failed");
    error_code ec;
    int fd = socket_.release(ec);
    if (ec) return fail(ErrorKind::Internal, "cannot take the socket: " + ec.message());
    sd_.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return fail(ErrorKind::Internal, "cannot watch the socket: " + ec.message());
    }
    int verbosity = SSH_LOG_NOLOG;
    int port = spec_.port;
    int no = 0;
    bool ok = sshlib().ssh_options_set(s_, SSH_OPTIONS_FD, &fd) == 0 && sshlib().ssh_options_set(s_, SSH_OPTIONS_HOST, spec_.host.c_str()) == 0 &&
              sshlib().ssh_options_set(s_, SSH_OPTIONS_PORT, &port) == 0 &&
              sshlib().ssh_options_set(s_, SSH_OPTIONS_USER, spec_.username.c_str()) == 0 &&
              sshlib().ssh_options_set(s_, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) == 0 &&
              sshlib().ssh_options_set(s_, SSH_OPTIONS_PROCESS_CONFIG, &no) == 0 &&
              sshlib().ssh_options_set(s_, SSH_OPTIONS_KNOWNHOSTS, spec_.known_hosts.c_str()) == 0 &&
              sshlib().ssh_options_set(s_, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
                              spec_.global_known_hosts.empty() ? "/etc/ssh/ssh_known_hosts"
                                                               : spec_.global_known_hosts.c_str()) == 0;
    if (!ok) return fail(ErrorKind::Internal, fmt::format("libssh options: {}", sshlib().ssh_get_error(s_)));
    sshlib().ssh_set_blocking(s_, 0);
    enter(Step::Handshake, spec_.limits.handshake);
    drive([this] { return libssh(sshlib().ssh_connect(s_)); }, [this](Res r) {
      if (r == Res::Fail) return fail(ErrorKind::Protocol, fmt::format("SSH handshake with {} failed: {}", where(), err()));
      check_host_key();
    });
  }

  void check_host_key() {
    ssh_key key = nullptr;
    if (sshlib().ssh_get_server_publickey(s_, &key) != SSH_OK || !key)
      return fail(ErrorKind::Protocol, "the device sent no host key");
    std::string fp = fingerprint(key);
    std::string type = sshlib().ssh_key_type_to_char(sshlib().ssh_key_type(key)) ? sshlib().ssh_key_type_to_char(sshlib().ssh_key_type(key)) : "?";
    sshlib().ssh_key_free(key);
    host_key_ = fp;
    auto st = sshlib().ssh_session_is_known_server(s_);
    switch (st) {
      case SSH_KNOWN_HOSTS_OK:
        break;
      case SSH_KNOWN_HOSTS_CHANGED:
      case SSH_KNOWN_HOSTS_OTHER:
        return fail(ErrorKind::Tls,
                    fmt::format("host key CHANGED for {}: the device now presents {} {}, which does not match {} "
                                "(possible man-in-the-middle; refused whatever host_key_policy says; if the change "
                                "is expected, remove the old entry with ssh-keygen -R)",
                                where(), type, fp, spec_.known_hosts));
      case SSH_KNOWN_HOSTS_UNKNOWN:
      case SSH_KNOWN_HOSTS_NOT_FOUND:
        if (spec_.policy != HostKeyPolicy::AcceptNew)
          return fail(ErrorKind::Tls, fmt::format("unknown host key for {}: {} {} is not in {} (host_key_policy "
                                                  "strict; add the key, or set host_key_policy: accept-new)",
                                                  where(), type, fp, spec_.known_hosts));
        if (sshlib().ssh_session_update_known_hosts(s_) != SSH_OK)
          return fail(ErrorKind::Config, fmt::format("cannot add the host key of {} to {}: {}", where(),
                                                     spec_.known_hosts, err()));
        added_key_ = true;
        break;
      case SSH_KNOWN_HOSTS_ERROR:
      default:
        return fail(ErrorKind::Config, fmt::format("cannot check the host key of {} against {}: {}", where(),
                                                   spec_.known_hosts, err()));
    }
    authenticate();
  }

  void authenticate() {
    enter(Step::Auth, spec_.limits.auth);
    if (spec_.identity && !tried_key_) {
      tried_key_ = true;
      return drive([this] { return auth(sshlib().ssh_userauth_publickey(s_, nullptr, spec_.identity.get())); },
                   [this](Res r) {
                     if (r == Res::Ok) return open_channel();
                     if (auth_partial_) return fail(ErrorKind::Auth, "the device asks for a second authentication (not supported)");
                     if (auth_error_) return fail(ErrorKind::Auth, fmt::format("public key authentication failed: {}", err()));
                     if (has_password()) return authenticate();
                     fail(ErrorKind::Auth, fmt::format("public key {} refused for user {}{}", spec_.identity_file,
                                                       spec_.username, methods_note()));
                   });
    }
    if (!has_password()) {
      return fail(ErrorKind::Auth, fmt::format("no way to authenticate as {}: set identity_file, or a password in "
                                               "the credentials",
                                               spec_.username));
    }
    int methods = sshlib().ssh_userauth_list(s_, nullptr);
    if (tried_key_ && methods != 0 && !(methods & SSH_AUTH_METHOD_PASSWORD) && (methods & SSH_AUTH_METHOD_INTERACTIVE))
      return kbdint();
    drive([this] { return auth(sshlib().ssh_userauth_password(s_, nullptr, spec_.password->reveal().c_str())); },
          [this](Res r) {
            if (r == Res::Ok) return open_channel();
            if (auth_partial_) return fail(ErrorKind::Auth, "the device asks for a second authentication (not supported)");
            if (auth_error_) return fail(ErrorKind::Auth, fmt::format("password authentication failed: {}", err()));
            int m = sshlib().ssh_userauth_list(s_, nullptr);
            if (m != 0 && !(m & SSH_AUTH_METHOD_PASSWORD) && (m & SSH_AUTH_METHOD_INTERACTIVE) && !tried_kbdint_)
              return kbdint();
            if (m != 0 && !(m & SSH_AUTH_METHOD_PASSWORD) && !(m & SSH_AUTH_METHOD_INTERACTIVE))
              return fail(ErrorKind::Auth, fmt::format("the device does not accept password authentication for {}{}",
                                                       spec_.username, methods_note()));
            fail(ErrorKind::Auth, fmt::format("wrong password for user {} (password refused)", spec_.username));
          });
  }

  void kbdint() {
    tried_kbdint_ = true;
    drive(
        [this]() -> Res {
          for (;;) {
            int rc = sshlib().ssh_userauth_kbdint(s_, nullptr, nullptr);
            if (rc != SSH_AUTH_INFO) return auth(rc);
            // Every prompt gets the password; the answers go out on the next call.
            int n = sshlib().ssh_userauth_kbdint_getnprompts(s_);
            if (n < 0 || n > 8 || ++kbd_rounds_ > 4) return Res::Fail;
            for (int i = 0; i < n; ++i)
              sshlib().ssh_userauth_kbdint_setanswer(s_, static_cast<unsigned>(i), spec_.password->reveal().c_str());
          }
        },
        [this](Res r) {
          if (r == Res::Ok) return open_channel();
          fail(ErrorKind::Auth, fmt::format("wrong password for user {} (keyboard-interactive refused)", spec_.username));
        });
  }

  void open_channel() {
    enter(Step::OpenChannel, spec_.limits.channel);
    if (ch_) {
      sshlib().ssh_channel_free(ch_);
      ch_ = nullptr;
    }
    ch_ = sshlib().ssh_channel_new(s_);
    if (!ch_) return fail(ErrorKind::Internal, "ssh_channel_new failed");
    drive([this] { return libssh(sshlib().ssh_channel_open_session(ch_)); }, [this](Res r) {
      if (r == Res::Fail) return fail(ErrorKind::BmcError, fmt::format("the device refused a session channel: {}", err()));
      if (spec_.profile->mode == Mode::Exec) return exec_command();
      if (spec_.profile->pty) return request_pty();
      request_shell();
    });
  }

  void request_pty() {
    enter(Step::RequestPty, spec_.limits.channel);
    drive([this] { return libssh(sshlib().ssh_channel_request_pty_size(ch_, "vt100", 200, 24)); }, [this](Res r) {
      if (r == Res::Fail) return fail(ErrorKind::BmcError, fmt::format("the device refused a terminal: {}", err()));
      request_shell();
    });
  }

  void request_shell() {
    enter(Step::RequestShell, spec_.limits.channel);
    drive([this] { return libssh(sshlib().ssh_channel_request_shell(ch_)); }, [this](Res r) {
      if (r == Res::Fail) return fail(ErrorKind::BmcError, fmt::format("the device refused a shell: {}", err()));
      enter(Step::Prompt, spec_.limits.reply);
      buf_.clear();
      read_until_prompt([this] { shell_command(); });
    });
  }

  // Shell mode: type the next command, read to the prompt, judge.
  void shell_command() {
    if (next_ >= spec_.commands.size()) return succeed();
    const std::string& cmd = spec_.commands[next_];
    buf_.clear();
    enter(Step::Reply, spec_.limits.reply);
    std::string line = cmd + spec_.profile->newline;
    if (sshlib().ssh_channel_write(ch_, line.data(), static_cast<uint32_t>(line.size())) != static_cast<int>(line.size()))
      return fail(ErrorKind::Connection, fmt::format("cannot send the command to {}: {}", where(), err()));
    read_until_prompt([this] {
      std::string reply = strip_shell_reply(buf_, spec_.commands[next_]);
      if (!judge_reply(reply, -1)) return;
      ++next_;
      shell_command();
    });
  }

  /// Reads until the accumulated text ends with the prompt (after at least one new byte).
  void read_until_prompt(std::function<void()> then) {
    drive(
        [this]() -> Res {
          Res r = read_available();
          if (r == Res::Fail) return r;
          if (ends_with_prompt(*spec_.profile, buf_)) return Res::Ok;
          if (eof_) return Res::Fail;
          return Res::Again;
        },
        [this, then = std::move(then)](Res r) {
          if (r == Res::Ok) return then();
          if (overflow_) return fail(ErrorKind::Protocol, fmt::format("reply larger than {} bytes", spec_.max_reply));
          if (eof_)
            return fail(ErrorKind::Protocol, fmt::format("the device closed the session before its prompt ({}): {}",
                                                         spec_.profile->prompt.source, sanitize(tail(buf_))));
          fail(ErrorKind::Connection, fmt::format("reading from {}: {}", where(), err()));
        });
  }

  // Exec mode: one channel per command: exec, read to EOF, exit status, judge.
  void exec_command() {
    const std::string& cmd = spec_.commands[next_];
    enter(Step::RequestExec, spec_.limits.channel);
    drive([this, &cmd] { return libssh(sshlib().ssh_channel_request_exec(ch_, cmd.c_str())); }, [this](Res r) {
      if (r == Res::Fail) return fail(ErrorKind::BmcError, fmt::format("the device refused the command: {}", err()));
      enter(Step::Reply, spec_.limits.reply);
      buf_.clear();
      eof_ = false;
      drive(
          [this]() -> Res {
            Res x = read_available();
            if (x == Res::Fail) return x;
            if (!eof_) return Res::Again;
            // The exit status usually follows the EOF: wait for it, or for the close.
            exit_status_ = sshlib().ssh_channel_get_exit_status(ch_);
            if (exit_status_ >= 0 || sshlib().ssh_channel_is_closed(ch_)) return Res::Ok;
            return Res::Again;
          },
          [this](Res x) {
            if (x == Res::Fail) {
              if (overflow_) return fail(ErrorKind::Protocol, fmt::format("reply larger than {} bytes", spec_.max_reply));
              return fail(ErrorKind::Connection, fmt::format("reading from {}: {}", where(), err()));
            }
            if (!judge_reply(buf_, exit_status_)) return;
            ++next_;
            if (next_ >= spec_.commands.size()) return succeed();
            open_channel();
          });
    });
  }

  /// Moves what the channel has into buf_ (stdout and stderr).
  /// libssh reads the socket while it is asked about either stream: reading stderr can pull a
  /// packet of stdout (the prompt after a reply) into its buffer and drain the socket, which
  /// then never becomes readable for it.  So: passes until one reads nothing and neither
  /// stream has buffered data (and wait_io re-polls on a timer as well).
  Res read_available() {
    char tmp[4096];
    for (int pass = 0; pass < 64; ++pass) {
      bool got = false;
      for (int stream = 0; stream < 2; ++stream) {
        for (;;) {
          int n = sshlib().ssh_channel_read_nonblocking(ch_, tmp, sizeof tmp, stream);
          if (n == SSH_EOF) {
            eof_ = true;
            break;
          }
          if (n < 0) return Res::Fail;
          if (n == 0) break;
          got = true;
          if (buf_.size() + static_cast<std::size_t>(n) > spec_.max_reply) {
            overflow_ = true;
            return Res::Fail;
          }
          buf_.append(tmp, static_cast<std::size_t>(n));
        }
      }
      if (!got && !eof_ && (sshlib().ssh_channel_poll(ch_, 0) > 0 || sshlib().ssh_channel_poll(ch_, 1) > 0)) got = true;
      if (!got) break;
    }
    if (sshlib().ssh_channel_is_eof(ch_)) eof_ = true;
    return Res::Ok;
  }

  static std::string tail(const std::string& s) { return s.size() > 80 ? s.substr(s.size() - 80) : s; }

  /// The reply proper: without the echoed command (terminals echo) and the final prompt line.
  static std::string strip_shell_reply(const std::string& text, const std::string& cmd) {
    std::string r = text;
    auto nl = r.find_last_of('\n');
    r = nl == std::string::npos ? std::string() : r.substr(0, nl);
    auto first_nl = r.find('\n');
    std::string first = r.substr(0, first_nl);
    while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.pop_back();
    if (first.size() >= cmd.size() && first.compare(first.size() - cmd.size(), cmd.size(), cmd) == 0)
      r = first_nl == std::string::npos ? std::string() : r.substr(first_nl + 1);
    return r;
  }

  bool judge_reply(const std::string& reply, int exit_status) {
    const bool last = next_ + 1 == spec_.commands.size();
    Action a = spec_.action;
    // Earlier commands of a status are only checked for errors.
    Verdict v = judge(*spec_.profile, last ? a : (a == Action::Status ? Action::On : a), *spec_.spec, spec_.bound,
                      reply, exit_status);
    if (!last && a == Action::Status && v.error == ErrorKind::Protocol) v = {};
    if (v.error != ErrorKind::None) {
      fail(v.error, fmt::format("'{}': {}", spec_.commands[next_], v.detail));
      return false;
    }
    if (last) {
      state_ = v.state;
      detail_ = v.detail;
    }
    return true;
  }

  // -- the non-blocking driver ----------------------------------------------------------------

  Res libssh(int rc) {
    if (rc == SSH_OK) return Res::Ok;
    if (rc == SSH_AGAIN) return Res::Again;
    return Res::Fail;
  }

  Res auth(int rc) {
    switch (rc) {
      case SSH_AUTH_SUCCESS:
        return Res::Ok;
      case SSH_AUTH_AGAIN:
        return Res::Again;
      case SSH_AUTH_PARTIAL:
        auth_partial_ = true;
        return Res::Fail;
      case SSH_AUTH_DENIED:
        return Res::Fail;
      default:
        auth_error_ = true;
        return Res::Fail;
    }
  }

  /// Calls `f` until it stops returning Again, waiting for the socket in between; then `next`.
  void drive(std::function<Res()> f, std::function<void(Res)> next) {
    auth_partial_ = auth_error_ = false;
    f_ = std::move(f);
    next_fn_ = std::move(next);
    pump();
  }

  void pump() {
    if (!live()) return;
    Res r = f_();
    if (!live()) return;
    if (r == Res::Again) return wait_io();
    auto next = std::move(next_fn_);
    next(r);
  }

  /// Waits for the socket, and re-polls after kRepoll in any case: data libssh has already
  /// buffered (see read_available) never makes the socket readable.  Whichever comes first
  /// pumps; the other is stale (wait_gen_).
  void wait_io() {
    int flags = sshlib().ssh_get_poll_flags(s_);
    auto w = (flags & SSH_WRITE_PENDING) ? asio::posix::descriptor_base::wait_write
                                         : asio::posix::descriptor_base::wait_read;
    const unsigned gen = ++wait_gen_;
    sd_.async_wait(w, [self = shared_from_this(), gen](error_code ec) {
      if (!self->live() || gen != self->wait_gen_) return;
      if (ec) return self->fail(ErrorKind::Connection, fmt::format("waiting on {}: {}", self->where(), ec.message()));
      ++self->wait_gen_;
      self->repoll_timer_.cancel();
      self->pump();
    });
    repoll_timer_.expires_after(kRepoll);
    repoll_timer_.async_wait([wk = weak_from_this(), gen](error_code ec) {
      auto self = wk.lock();
      if (!self || ec || !self->live() || gen != self->wait_gen_) return;
      ++self->wait_gen_;
      self->pump();
    });
  }

  // -- deadlines, cancellation, completion ---------------------------------------------------

  void enter(Step s, Millis limit) {
    step_ = s;
    auto until = std::min(Clock::now() + limit, spec_.deadline);
    step_timer_.expires_at(until);
    step_timer_.async_wait([w = weak_from_this(), s](error_code ec) {
      auto self = w.lock();
      if (!self || ec || self->step_ != s) return;
      if (s == Step::Closing) return self->end_close();
      if (self->finished_) return;
      self->fail(self->timeout_kind(), "timed out waiting for " + self->waiting_for());
    });
  }

  ErrorKind timeout_kind() const {
    return (step_ == Step::Connect || step_ == Step::Resolve) ? ErrorKind::NoResponse : ErrorKind::Timeout;
  }

  std::string waiting_for() const {
    switch (step_) {
      case Step::Resolve: return fmt::format("the address of {}", spec_.host);
      case Step::Connect: return fmt::format("the TCP connection to {} (no answer)", where());
      case Step::Handshake: return "the SSH key exchange";
      case Step::Auth: return "SSH authentication";
      case Step::OpenChannel: return "a session channel";
      case Step::RequestPty: return "a terminal";
      case Step::RequestShell: return "the shell";
      case Step::RequestExec: return fmt::format("the device to accept '{}'", spec_.commands[next_]);
      case Step::Prompt: return fmt::format("the prompt ({}); got: {}", spec_.profile->prompt.source, sanitize(tail(buf_)));
      case Step::Reply:
        return spec_.profile->mode == Mode::Shell
                   ? fmt::format("the reply to '{}' and the prompt; got: {}", spec_.commands[next_], sanitize(tail(buf_)))
                   : fmt::format("the reply to '{}'", spec_.commands[next_]);
      case Step::Closing:
      case Step::Done: break;
    }
    return "the device";
  }

  void on_cancel(asio::cancellation_type t) {
    if (finished_) return;
    bool interrupted = (t & asio::cancellation_type::terminal) != asio::cancellation_type::none;
    if (interrupted) return fail(ErrorKind::Interrupted, "interrupted while waiting for " + waiting_for());
    fail(timeout_kind(), "timed out waiting for " + waiting_for());
  }

  std::string where() const { return spec_.label; }
  std::string err() const { return s_ ? sanitize(sshlib().ssh_get_error(s_)) : std::string("no session"); }
  bool has_password() const { return spec_.password && !spec_.password->empty(); }
  std::string methods_note() const {
    int m = s_ ? sshlib().ssh_userauth_list(s_, nullptr) : 0;
    if (m == 0) return "";
    std::vector<std::string> names;
    if (m & SSH_AUTH_METHOD_PUBLICKEY) names.emplace_back("publickey");
    if (m & SSH_AUTH_METHOD_PASSWORD) names.emplace_back("password");
    if (m & SSH_AUTH_METHOD_INTERACTIVE) names.emplace_back("keyboard-interactive");
    if (m & SSH_AUTH_METHOD_HOSTBASED) names.emplace_back("hostbased");
    if (m & SSH_AUTH_METHOD_GSSAPI_MIC) names.emplace_back("gssapi");
    return fmt::format(" (the device accepts: {})", fmt::join(names, ", "));
  }

  static std::string fingerprint(ssh_key key) {
    unsigned char* hash = nullptr;
    size_t len = 0;
    if (sshlib().ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != 0) return "SHA256:?";
    char* fp = sshlib().ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
    std::string out = fp ? fp : "SHA256:?";
    sshlib().ssh_string_free_char(fp);
    sshlib().ssh_clean_pubkey_hash(&hash);
    return out;
  }

  void succeed() {
    Outcome o;
    if (spec_.action == Action::Status) {
      o = Outcome::success(std::string(power_state_name(state_)), state_);
    } else {
      o = Outcome::success("ok");
    }
    if (!detail_.empty()) o.facts.emplace_back("reply", detail_);
    finish(std::move(o), /*graceful=*/true);
  }

  void fail(ErrorKind k, std::string reason) { finish(Outcome::failure(k, std::move(reason))); }

  bool live() const { return !finished_ || closing_; }

  /// The outcome is reported at once; with `graceful` the session then leaves politely (shell:
  /// the exit command; both: wait for the device to close the channel, at most close_limit) so
  /// the device frees its CLI session, and only then is the device released for the next
  /// operation.
  void finish(Outcome o, bool graceful = false) {
    if (finished_) {
      if (closing_) end_close();
      return;
    }
    finished_ = true;
    step_ = Step::Done;
    o.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - started_);
    if (spec_.profile) o.facts.emplace_back("ssh_profile", spec_.profile->name);
    if (!host_key_.empty()) o.facts.emplace_back("ssh_host_key", host_key_);
    if (added_key_) o.facts.emplace_back("ssh_host_key_added", spec_.known_hosts);
    if (cancel_.is_connected()) cancel_.clear();
    step_timer_.cancel();
    resolver_.cancel();
    // Completion is posted: never from inside start(), and after this object's handlers unwind.
    asio::post(ex_, [d = std::move(done_), o = std::move(o)]() mutable { d(std::move(o)); });
    if (graceful && ch_ && s_ && !sshlib().ssh_channel_is_closed(ch_)) {
      closing_ = true;
      step_ = Step::Closing;
      step_timer_.expires_after(kCloseLimit);
      step_timer_.async_wait([w = weak_from_this()](error_code ec) {
        auto self = w.lock();
        if (!self || ec) return;
        self->end_close();
      });
      if (spec_.profile->mode == Mode::Shell && !spec_.profile->exit_command.empty()) {
        std::string line = spec_.profile->exit_command + spec_.profile->newline;
        sshlib().ssh_channel_write(ch_, line.data(), static_cast<uint32_t>(line.size()));
      }
      buf_.clear();
      return drive(
          [this]() -> Res {
            if (read_available() == Res::Fail) return Res::Fail;
            buf_.clear();  // what the device says on the way out does not matter
            return sshlib().ssh_channel_is_closed(ch_) ? Res::Ok : Res::Again;
          },
          [this](Res) { end_close(); });
    }
    teardown();
    asio::post(ex_, [r = std::move(released_)] { if (r) r(); });
  }

  void end_close() {
    if (!closing_) return;
    closing_ = false;
    step_timer_.cancel();
    teardown();
    asio::post(ex_, [r = std::move(released_)] { if (r) r(); });
  }

  void teardown() {
    error_code ec;
    repoll_timer_.cancel();
    socket_.close(ec);
    if (sd_.is_open()) {
      int fd = sd_.release();  // libssh owns the descriptor and closes it
      if (!s_) ::close(fd);
    }
    if (ch_) {
      sshlib().ssh_channel_close(ch_);
      sshlib().ssh_channel_free(ch_);
      ch_ = nullptr;
    }
    if (s_) {
      sshlib().ssh_disconnect(s_);
      sshlib().ssh_free(s_);
      s_ = nullptr;
    }
  }

  asio::any_io_executor ex_;
  SessionSpec spec_;
  asio::cancellation_slot cancel_;
  std::function<void(Outcome)> done_;
  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  asio::posix::stream_descriptor sd_;
  asio::steady_timer step_timer_;
  asio::steady_timer repoll_timer_;
  unsigned wait_gen_ = 0;
  static constexpr Millis kRepoll{100};
  std::function<void()> released_;
  ssh_session s_ = nullptr;
  ssh_channel ch_ = nullptr;
  Step step_ = Step::Resolve;
  std::function<Res()> f_;
  std::function<void(Res)> next_fn_;
  static constexpr Millis kCloseLimit{1000};
  bool closing_ = false;
  bool finished_ = false, answered_ = false, eof_ = false, overflow_ = false;
  bool tried_key_ = false, tried_kbdint_ = false, auth_partial_ = false, auth_error_ = false;
  bool added_key_ = false;
  int kbd_rounds_ = 0;
  int exit_status_ = -1;
  std::size_t next_ = 0;
  std::string buf_;
  std::string host_key_;
  std::string detail_;
  PowerState state_ = PowerState::Unknown;
  Clock::time_point started_;
};

}  // namespace

void run_session(asio::any_io_executor ex, SessionSpec spec, asio::cancellation_slot cancel,
                 std::function<void(Outcome)> done, std::function<void()> released) {
  std::string why;
  if (!load_libssh(&why)) {
    asio::post(ex, [done = std::move(done), released = std::move(released), why = std::move(why)] {
      done(Outcome::failure(ErrorKind::Config, why));
      if (released) released();
    });
    return;
  }
  auto s = std::make_shared<Session>(std::move(ex), std::move(spec), cancel, std::move(done), std::move(released));
  s->begin();
}

std::shared_ptr<ssh_key_struct> load_identity(const std::string& path, std::string* err) {
  if (!load_libssh(err)) return nullptr;
  ssh_key key = nullptr;
  int rc = sshlib().ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &key);
  if (rc != SSH_OK || !key) {
    *err = fmt::format("cannot load identity_file {} (missing, unreadable, or protected by a passphrase, which "
                       "fleetpower does not support)",
                       path);
    return nullptr;
  }
  return std::shared_ptr<ssh_key_struct>(key, [](ssh_key k) { sshlib().ssh_key_free(k); });
}

}  // namespace fleetpower::ssh
