#!/bin/bash
# The README's walkthrough (the seed document's steps 5-15) against a running `tricircle up`,
# with Debian's `openstack` client and the `tricircle` admin CLI, checking after each step what
# every region's own Neutron and the Admin API show (reference §9.2, the single-gateway topology).
#
#   scripts/walkthrough.sh DATA_DIR     # DATA_DIR: the `up` data directory (its admin-openrc.sh)
#
# Exit status 0 when every step ran and every check held; otherwise 1, with the step and what
# differed on standard error. Run it on a fresh data directory: it creates net1, net2, ext-net
# and a router named `router`, and expects to find nothing else of those names.
set -euo pipefail

DATA_DIR=${1:?usage: scripts/walkthrough.sh DATA_DIR (the data directory of a running tricircle up)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRICIRCLE="$ROOT/bin/tricircle.js"
# shellcheck source=/dev/null
source "$DATA_DIR/admin-openrc.sh"

STEP=start
step() {
  STEP=$1
  echo "== step $*" >&2
}
fail() {
  echo "walkthrough: step $STEP: $*" >&2
  REPORTED=1
  exit 1
}
# A command that failed on its own (set -e) is named by its step too.
trap 'status=$?; [ $status -eq 0 ] || [ -n "${REPORTED:-}" ] || echo "walkthrough: step $STEP: a command failed (exit $status), its output is above" >&2' EXIT

# The value of the JavaScript expression $1 over `d`, the JSON document on standard input
# (strings bare, anything else as JSON): the openstack client's `-f json` read with node.
query() {
  node -e '
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const d = JSON.parse(text);
      const value = new Function("d", `return (${process.argv[1]});`)(d);
      process.stdout.write(typeof value === "string" ? value : JSON.stringify(value));
    });' "$1"
}

# expect WHAT ACTUAL EXPECTED: fails naming WHAT unless ACTUAL equals EXPECTED.
expect() {
  [ "$2" = "$3" ] || fail "$1: expected $3, got $2"
}

# expect_match WHAT ACTUAL REGEX: fails naming WHAT unless ACTUAL matches the extended REGEX.
expect_match() {
  [[ $2 =~ $3 ]] || fail "$1: expected something matching /$3/, got $2"
}

# Waits for every job to end; a FAIL or a timeout fails the step with the job list.
wait_jobs() {
  if ! "$TRICIRCLE" job wait --timeout 60; then
    "$TRICIRCLE" job list >&2 || true
    fail "the jobs did not all end SUCCESS"
  fi
}

# Standard input's lines, or the arguments, sorted on one space-separated line.
sorted_line() { sort | tr '\n' ' ' | sed 's/ $//'; }
sorted() { printf '%s\n' "$@" | sorted_line; }

# The ids of a region's resources of KIND (network, router, port, floating ip) as one sorted,
# space-separated line; the remaining arguments filter (e.g. --name X).
ids() {
  local region=$1 kind=$2
  shift 2
  # shellcheck disable=SC2086
  openstack --os-region-name "$region" $kind list "$@" -f value -c ID | sorted_line
}

# ---------------------------------------------------------------- step 5: the pods
step 5 'the pods `up` registered: CentralRegion, RegionOne in az1, RegionTwo in az2'
"$TRICIRCLE" pod list
pods=$("$TRICIRCLE" pod list -f json | query 'd.map((p) => `${p.region_name}/${p.az_name}`).sort().join(" ")')
expect 'the pods' "$pods" 'CentralRegion/ RegionOne/az1 RegionTwo/az2'

# ---------------------------------------------------------------- step 6: net1 and subnet1
step 6 'net1 and subnet1 on the central Neutron'
net1=$(openstack --os-region-name CentralRegion network create net1 -f value -c id)
openstack --os-region-name CentralRegion subnet create --network net1 --subnet-range 10.0.1.0/24 subnet1 -f value -c id >/dev/null
for region in RegionOne RegionTwo; do
  expect "$region's networks before any server" "$(ids $region network)" ''
done

# ---------------------------------------------------------------- step 7: image and flavor
step 7 "RegionOne's images and flavors"
image=$(openstack --os-region-name RegionOne image list -f value -c ID -c Name | awk '/cirros/ { print $1; exit }')
[ -n "$image" ] || fail 'RegionOne lists no cirros image'
flavors=$(openstack --os-region-name RegionOne flavor list -f value -c ID | tr '\n' ' ')
[[ " $flavors" == *" 1 "* ]] || fail "RegionOne has no flavor 1, only: $flavors"

# ---------------------------------------------------------------- step 8: the servers
step 8 'vm1 in RegionOne on net1; net2 and vm2 in RegionTwo'
vm1=$(openstack --os-region-name RegionOne server create --flavor 1 --image "$image" --nic net-id="$net1" vm1 -f value -c id)
net2=$(openstack --os-region-name CentralRegion network create net2 -f value -c id)
openstack --os-region-name CentralRegion subnet create --network net2 --subnet-range 10.0.2.0/24 subnet2 -f value -c id >/dev/null
vm2=$(openstack --os-region-name RegionTwo server create --flavor 1 --image "$image" --nic net-id="$net2" vm2 -f value -c id)
wait_jobs
# A region holds the networks of its servers only, under the central ids.
expect "RegionOne's networks" "$(ids RegionOne network)" "$net1"
expect "RegionTwo's networks" "$(ids RegionTwo network)" "$net2"

# ---------------------------------------------------------------- step 9: the servers' ports
step 9 'each server is ACTIVE on a port with the address the central Neutron gave it'
declare -A vm_ip
for region_vm_net in "RegionOne $vm1 10.0.1" "RegionTwo $vm2 10.0.2"; do
  read -r region vm prefix <<<"$region_vm_net"
  expect "the status of $vm in $region" "$(openstack --os-region-name "$region" server show "$vm" -f value -c status)" ACTIVE
  central_ip=$(openstack --os-region-name CentralRegion port list --device-id "$vm" -f json | query 'd.map((p) => p["Fixed IP Addresses"][0].ip_address).join(" ")')
  expect_match "the central port of $vm" "$central_ip" "^${prefix//./\\.}\.[0-9]+$"
  local_ip=$(openstack --os-region-name "$region" port list --device-id "$vm" -f json | query 'd.map((p) => p["Fixed IP Addresses"][0].ip_address).join(" ")')
  expect "the port of $vm in $region" "$local_ip" "$central_ip"
  vm_ip[$region]=$central_ip
done
vm1_port=$(openstack --os-region-name CentralRegion port list --device-id "$vm1" -f value -c ID)

# ---------------------------------------------------------------- step 10: the external network
step 10 'ext-net (VLAN on extern) and ext-subnet, in RegionTwo'
ext_net=$(openstack --os-region-name CentralRegion network create --external --provider-network-type vlan --provider-physical-network extern \
  --availability-zone-hint RegionTwo ext-net -f value -c id)
openstack --os-region-name CentralRegion subnet create --network ext-net --no-dhcp --subnet-range 163.3.124.0/24 ext-subnet -f value -c id >/dev/null
expect "RegionTwo's networks" "$(ids RegionTwo network)" "$(sorted "$net2" "$ext_net")"
expect "RegionOne's networks" "$(ids RegionOne network)" "$net1"

# ---------------------------------------------------------------- step 11: the router
step 11 'a router with subnet1 and subnet2: a copy of it in each region'
router=$(openstack --os-region-name CentralRegion router create router -f value -c id)
openstack --os-region-name CentralRegion router add subnet router subnet1
openstack --os-region-name CentralRegion router add subnet router subnet2
wait_jobs
# Each region's copy is named after the central router's id, with an interface on its own
# subnet and one on the bridge network 100.0.0.0/24 that joins the copies.
declare -A bottom bridge_ip
for region_prefix in 'RegionOne 10.0.1' 'RegionTwo 10.0.2'; do
  read -r region prefix <<<"$region_prefix"
  bottom[$region]=$(ids "$region" router --name "$router")
  expect_match "the routers named $router in $region" "${bottom[$region]}" '^[0-9a-f-]{36}$'
  addresses=$(openstack --os-region-name "$region" port list --router "${bottom[$region]}" -f json |
    query 'd.map((p) => p["Fixed IP Addresses"][0].ip_address).sort().join(" ")')
  expect_match "the interfaces of $region's router" "$addresses" "^${prefix//./\\.}\.[0-9]+ 100\.0\.0\.[0-9]+$"
  bridge_ip[$region]=${addresses##* }
done
"$TRICIRCLE" routing list --resource-type router
# The Admin API's routings name exactly those two copies.
routed=$("$TRICIRCLE" routing list --resource-type router --top-id "$router" -f json | query 'd.map((r) => r.bottom_id).sort().join(" ")')
expect "the router routings of $router" "$routed" "$(sorted "${bottom[RegionOne]}" "${bottom[RegionTwo]}")"

# ---------------------------------------------------------------- step 12: the gateway
step 12 'the gateway on ext-net: ns_router_<router> in RegionTwo, default routes via 100.0.0.1'
openstack --os-region-name CentralRegion router set --external-gateway ext-net router
wait_jobs
expect_match "RegionTwo's ns_router_$router" "$(ids RegionTwo router --name "ns_router_$router")" '^[0-9a-f-]{36}$'
expect "RegionOne's routers named ns_router_$router" "$(ids RegionOne router --name "ns_router_$router")" ''
gateway_ip=$(openstack --os-region-name CentralRegion router show router -f json | query 'd.external_gateway_info.external_fixed_ips[0].ip_address')
ns_gateway_ip=$(openstack --os-region-name RegionTwo router show "ns_router_$router" -f json | query 'd.external_gateway_info.external_fixed_ips[0].ip_address')
expect "the gateway address of RegionTwo's ns_router_$router" "$ns_gateway_ip" "$gateway_ip"
# North-south traffic goes to the ns_router (100.0.0.1); the other region's server through its copy.
for region_other in 'RegionOne RegionTwo' 'RegionTwo RegionOne'; do
  read -r region other <<<"$region_other"
  routes=$(openstack --os-region-name "$region" router show "${bottom[$region]}" -f json |
    query 'd.routes.map((r) => `${r.destination}>${r.nexthop}`).sort().join(" ")')
  expect "the routes of $region's router" "$routes" "0.0.0.0/0>100.0.0.1 ${vm_ip[$other]}/32>${bridge_ip[$other]}"
done
ns_routings=$("$TRICIRCLE" routing list --resource-type ns_router --top-id "$router" -f json | query 'd.length')
expect "the ns_router routings of $router" "$ns_routings" 1

# ---------------------------------------------------------------- step 14: the floating IP
step 14 'a floating IP of ext-net, on the central Neutron only'
fip=$(openstack --os-region-name CentralRegion floating ip create ext-net -f json | query '`${d.id} ${d.floating_ip_address}`')
read -r fip_id fip_address <<<"$fip"
expect_match 'the floating IP' "$fip_address" '^163\.3\.124\.[0-9]+$'
wait_jobs
for region in RegionOne RegionTwo; do
  expect "$region's floating IPs" "$(ids $region 'floating ip')" ''
done

# ---------------------------------------------------------------- step 15: associating it
step 15 "the floating IP on vm1's port: in RegionTwo, where ext-net is"
openstack --os-region-name CentralRegion floating ip set --port "$vm1_port" "$fip_id"
wait_jobs
fips=$(openstack --os-region-name RegionTwo floating ip list -f json | query 'd.map((f) => `${f["Floating IP Address"]} ${f.Port}`).join(" ")')
expect "RegionTwo's floating IPs" "$fips" "$fip_address $vm1_port"
expect "RegionOne's floating IPs" "$(ids RegionOne 'floating ip')" ''
# vm1 lives in RegionOne: RegionTwo holds a shadow of its port for the floating IP to point at.
expect "the device owner of vm1's port in RegionTwo" "$(openstack --os-region-name RegionTwo port show "$vm1_port" -f value -c device_owner)" compute:shadow
"$TRICIRCLE" job list
unfinished=$("$TRICIRCLE" job list -f json | query 'd.filter((j) => j.status !== "SUCCESS").map((j) => `${j.type}:${j.status}`).join(" ")')
expect 'the jobs that did not end SUCCESS' "$unfinished" ''

echo "walkthrough: every step ran and every region shows what it should" >&2
