// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// libssh is opened with dlopen(3) the first time an SSH target is used, not linked: a run that
// drives only IPMI or Redfish BMCs does not map libssh and the Kerberos/GSSAPI libraries it
// brings (libssh, zlib and seven Kerberos/GSSAPI and support libraries: 0.56 ms of CPU and
// 1.1-1.3 MB of resident memory at every start; bench/RESULTS.md, "Session 7").  Every libssh
// function the SSH transport calls is listed below and reached through sshlib(); the pointer
// types are the header's own declarations, so a wrong signature does not compile.

#include <libssh/libssh.h>

#include <string>

namespace fleetpower::ssh {

#define FP_LIBSSH_FUNCTIONS(X) \
  X(ssh_channel_close) \
  X(ssh_channel_free) \
  X(ssh_channel_get_exit_status) \
  X(ssh_channel_is_closed) \
  X(ssh_channel_is_eof) \
  X(ssh_channel_new) \
  X(ssh_channel_open_session) \
  X(ssh_channel_poll) \
  X(ssh_channel_read_nonblocking) \
  X(ssh_channel_request_exec) \
  X(ssh_channel_request_pty_size) \
  X(ssh_channel_request_shell) \
  X(ssh_channel_write) \
  X(ssh_clean_pubkey_hash) \
  X(ssh_connect) \
  X(ssh_disconnect) \
  X(ssh_free) \
  X(ssh_get_error) \
  X(ssh_get_fingerprint_hash) \
  X(ssh_get_poll_flags) \
  X(ssh_get_publickey_hash) \
  X(ssh_get_server_publickey) \
  X(ssh_init) \
  X(ssh_key_free) \
  X(ssh_key_type) \
  X(ssh_key_type_to_char) \
  X(ssh_new) \
  X(ssh_options_set) \
  X(ssh_pki_import_privkey_file) \
  X(ssh_session_is_known_server) \
  X(ssh_session_update_known_hosts) \
  X(ssh_set_blocking) \
  X(ssh_string_free_char) \
  X(ssh_userauth_kbdint) \
  X(ssh_userauth_kbdint_getnprompts) \
  X(ssh_userauth_kbdint_setanswer) \
  X(ssh_userauth_list) \
  X(ssh_userauth_password) \
  X(ssh_userauth_publickey) \
  /* end */

struct LibSsh {
#define FP_LIBSSH_MEMBER(f) decltype(&::f) f = nullptr;
  FP_LIBSSH_FUNCTIONS(FP_LIBSSH_MEMBER)
#undef FP_LIBSSH_MEMBER
};

/// Opens libssh ($FLEETPOWER_LIBSSH when set, else libssh.so.4) and resolves every function,
/// once (thread-safe); nullptr when that failed, with *error (when given) saying why ("cannot
/// load libssh, ...: <dlerror>" or the function this libssh lacks).
const LibSsh* load_libssh(std::string* error = nullptr);

/// The resolved functions; only after load_libssh() succeeded.
const LibSsh& sshlib();

}  // namespace fleetpower::ssh
