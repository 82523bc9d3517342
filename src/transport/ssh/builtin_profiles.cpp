// SPDX-License-Identifier: GPL-3.0-or-later
// The SSH device profiles compiled into fleetpower.  Same format as site profiles
// (fleetpower-ssh-profile(5) is described in fleetpower-inventory(5), SSH DEVICES).
#include "transport/ssh/profile.hpp"

namespace fleetpower::ssh {

namespace {

constexpr std::string_view kApc = R"yaml(
name: apc
description: APC switched rack PDU, Network Management Card command line (olOn, olOff, olReboot, olStatus)
kind: pdu
mode: shell
pty: true
prompt: '^apc>\s*$'
exit: exit
newline: "\r"
error: '^\s*E[1-9][0-9][0-9]:'
params:
  outlet: {pattern: '[0-9]{1,3}', help: 'an outlet number (1-999)'}
actions:
  status: {send: 'olStatus {outlet}', on: '^\s*{outlet}:.*:\s*On\s*$', off: '^\s*{outlet}:.*:\s*Off\s*$'}
  on: {send: 'olOn {outlet}', success: '^\s*E000:'}
  off: {send: 'olOff {outlet}', success: '^\s*E000:'}
  cycle: {send: 'olReboot {outlet}', success: '^\s*E000:'}
)yaml";

constexpr std::string_view kRaritan = R"yaml(
name: raritan
description: Raritan PX switched PDU command line (power outlets N on|off|cycle /y, show outlets N)
kind: pdu
mode: shell
pty: true
prompt: '^[^\s]*[#>] ?$'
exit: exit
newline: "\r"
error: '(?i)^\s*(error|invalid|unknown command)\b'
params:
  outlet: {pattern: '[0-9]{1,3}', help: 'an outlet number (1-999)'}
actions:
  status: {send: 'show outlets {outlet}', on: '(?i)^\s*power state:\s*on\s*$', off: '(?i)^\s*power state:\s*off\s*$'}
  on: {send: 'power outlets {outlet} on /y'}
  off: {send: 'power outlets {outlet} off /y'}
  cycle: {send: 'power outlets {outlet} cycle /y'}
)yaml";

constexpr std::string_view kServerTech = R"yaml(
name: servertech
description: ServerTech (Sentry) switched CDU command line (on, off, reboot, status .A5)
kind: pdu
mode: shell
pty: true
prompt: '(?i)^(switched|smart) [cp]du:\s*$'
exit: exit
newline: "\r"
error: '(?i)(command not successful|invalid (command|argument)|access denied)'
params:
  outlet: {pattern: '\.[A-Z]{1,2}[0-9]{1,3}', help: 'an outlet id like .A5 (tower A, outlet 5)'}
actions:
  status: {send: 'status {outlet}', on: '(?i)^\s*{outlet}\s.*\bon\s*$', off: '(?i)^\s*{outlet}\s.*\boff\s*$'}
  on: {send: 'on {outlet}', success: '(?i)command successful'}
  off: {send: 'off {outlet}', success: '(?i)command successful'}
  cycle: {send: 'reboot {outlet}', success: '(?i)command successful'}
)yaml";

constexpr std::string_view kSmashClp = R"yaml(
name: smash-clp
description: DMTF SMASH-CLP on a BMC (start, stop, reset /system1; show /system1 powerstate)
kind: bmc
mode: exec
error: '(?i)(\bstatus\s*=\s*[1-9]|command (failed|exception|processing failed)|invalid (command|target|option))'
params:
  system: {pattern: '/[A-Za-z0-9_]{1,32}(/[A-Za-z0-9_]{1,32}){0,3}', help: 'a CLP target path like /system1', default: /system1}
actions:
  status:
    send: 'show {system} powerstate'
    on: '(?i)^\s*(powerstate|power|enabledstate)\s*[=:]\s*(on|enabled)\s*$'
    off: '(?i)^\s*(powerstate|power|enabledstate)\s*[=:]\s*(off|disabled)\s*$'
  on: {send: 'start {system}', success: '(?i)(\bstatus\s*=\s*0\b|command completed)'}
  off: {send: 'stop -force {system}', success: '(?i)(\bstatus\s*=\s*0\b|command completed)'}
  soft: {send: 'stop {system}', success: '(?i)(\bstatus\s*=\s*0\b|command completed)'}
  reset: {send: 'reset {system}', success: '(?i)(\bstatus\s*=\s*0\b|command completed)'}
  cycle: {send: ['stop -force {system}', 'start {system}'], success: '(?i)(\bstatus\s*=\s*0\b|command completed)'}
)yaml";

constexpr std::string_view kRacadm = R"yaml(
name: racadm
description: Dell iDRAC racadm over SSH (racadm serveraction powerup, powerdown, powercycle, hardreset, powerstatus)
kind: bmc
mode: exec
error: '(?i)^\s*(error|err)\b'
actions:
  status:
    send: 'racadm serveraction powerstatus'
    on: '(?i)server power status:\s*on\b'
    off: '(?i)server power status:\s*off\b'
  on: {send: 'racadm serveraction powerup', success: '(?i)server power operation (successful|initiated)'}
  off: {send: 'racadm serveraction powerdown', success: '(?i)server power operation (successful|initiated)'}
  cycle: {send: 'racadm serveraction powercycle', success: '(?i)server power operation (successful|initiated)'}
  reset: {send: 'racadm serveraction hardreset', success: '(?i)server power operation (successful|initiated)'}
  soft: {send: 'racadm serveraction graceshutdown', success: '(?i)server power operation (successful|initiated)'}
)yaml";

}  // namespace

const std::vector<std::pair<std::string_view, std::string_view>>& builtin_profile_texts() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kTexts = {
      {"apc", kApc}, {"raritan", kRaritan}, {"servertech", kServerTech}, {"smash-clp", kSmashClp}, {"racadm", kRacadm},
  };
  return kTexts;
}

}  // namespace fleetpower::ssh
