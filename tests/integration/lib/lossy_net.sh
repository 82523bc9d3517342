# SPDX-License-Identifier: GPL-3.0-or-later
# A lossy management network for tests (sourced): a network namespace of its own, reached from
# the test's namespace over a veth pair with `tc qdisc ... netem` on both ends, or, on kernels
# built without sch_netem (CONFIG_NET_SCH_NETEM unset, as on the CI machines), over a pair of
# tun devices joined by tests/relay/netem.py, which applies the same loss, delay, jitter,
# duplication and reordering per direction in user space.  Names and addresses are unique per
# run (from the PID); addresses are 10.x only, on the devices made here.
#
#   lossy_net_up LOSS% DELAY_MS JITTER_MS DUPLICATE% REORDER%
#     -> LN_NS (namespace), LN_NET (prefix "10.A.B" of a /24 local to the namespace: servers
#        bind LN_NET.1 ... LN_NET.250 there), LN_MODE (netem | userspace), LN_WHY
#   lossy_net_down          (idempotent; call it from the test's EXIT trap)
#   lossy_net_can || exit 77   (prints the reason when namespaces cannot be made here)

LN_NS=
LN_NET=
LN_MODE=
LN_WHY=
LN_TUN_PID=
_LN_HOST_DEV=
_LN_SRC=${FP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}

lossy_net_can() {
  local probe="fpprobe$$"
  if [[ $(id -u) != 0 ]]; then echo "SKIP: network namespaces need root"; return 1; fi
  command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; return 1; }
  command -v tc >/dev/null || { echo "SKIP: iproute2 (tc) not installed"; return 1; }
  if ! ip netns add "$probe" 2>/dev/null; then echo "SKIP: cannot create a network namespace here"; return 1; fi
  ip netns del "$probe" 2>/dev/null
  return 0
}

lossy_net_up() {
  local loss=$1 delay=$2 jitter=$3 dup=$4 reorder=$5
  local a=$(((($$ >> 8) % 150) + 60)) b=$((($$ % 250) + 1))
  LN_NS="fpn$$"
  LN_NET="10.$((a + 1)).$b"
  local link="10.$a.$b" h="fpn$$h" n="fpn$$n"
  ip netns add "$LN_NS" || return 1
  ip netns exec "$LN_NS" ip link set lo up
  # Servers bind any address of LN_NET/24 inside the namespace.
  ip netns exec "$LN_NS" ip addr add "$LN_NET.1/24" dev lo
  ip netns exec "$LN_NS" sysctl -qw net.ipv4.ip_nonlocal_bind=1
  local spec=(loss "$loss%" delay "${delay}ms" "${jitter}ms" duplicate "$dup%" reorder "$reorder%")
  if ip link add "$h" type veth peer name "$n" && tc qdisc add dev "$h" root netem "${spec[@]}" 2>/dev/null; then
    LN_MODE=netem
    LN_WHY="tc netem on both ends of veth $h/$n"
    _LN_HOST_DEV=$h
    ip link set "$n" netns "$LN_NS"
    ip addr add "$link.1/30" dev "$h"
    ip link set "$h" up
    ip netns exec "$LN_NS" ip addr add "$link.2/30" dev "$n"
    ip netns exec "$LN_NS" ip link set "$n" up
    ip netns exec "$LN_NS" tc qdisc add dev "$n" root netem "${spec[@]}" || return 1
    ip route add "$LN_NET.0/24" via "$link.2" dev "$h"
    ip netns exec "$LN_NS" ip route add default via "$link.1" dev "$n"
  else
    ip link del "$h" 2>/dev/null
    LN_MODE=userspace
    LN_WHY="the kernel has no sch_netem: tun $h/$n joined by tests/relay/netem.py (same impairments, both directions)"
    _LN_HOST_DEV=$h
    ip tuntap add dev "$h" mode tun || return 1
    ip tuntap add dev "$n" mode tun || return 1
    local ready
    ready=$(mktemp /tmp/fp-netem-ready.XXXXXX)
    rm -f "$ready"
    /usr/bin/python3 "$_LN_SRC/tests/relay/netem.py" --dev-a "$h" --dev-b "$n" --ready "$ready" \
      --loss "$loss" --delay "$delay" --jitter "$jitter" --duplicate "$dup" --reorder "$reorder" &
    LN_TUN_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do [[ -s $ready ]] && break; sleep 0.05; done
    [[ -s $ready ]] || { echo "netem.py did not start"; return 1; }
    rm -f "$ready"
    ip link set "$n" netns "$LN_NS"
    ip addr add "$link.1" peer "$link.2" dev "$h"
    ip link set "$h" up
    ip netns exec "$LN_NS" ip addr add "$link.2" peer "$link.1" dev "$n"
    ip netns exec "$LN_NS" ip link set "$n" up
    ip route add "$LN_NET.0/24" dev "$h"
    ip netns exec "$LN_NS" ip route add default dev "$n"
  fi
}

lossy_net_down() {
  if [[ -n $LN_TUN_PID ]]; then
    kill "$LN_TUN_PID" 2>/dev/null
    wait "$LN_TUN_PID" 2>/dev/null
    LN_TUN_PID=
  fi
  if [[ -n $LN_NS ]]; then
    ip netns del "$LN_NS" 2>/dev/null
    LN_NS=
  fi
  if [[ -n $_LN_HOST_DEV ]]; then
    ip link del "$_LN_HOST_DEV" 2>/dev/null
    _LN_HOST_DEV=
  fi
  return 0
}
