// Package neutron reads OpenStack Neutron's own JSON — security groups with
// their rules, ports and address groups, as `openstack ... show -f json`,
// `openstack port list --long -f json` and the Neutron API (GET
// /v2.0/security-groups, /v2.0/ports, /v2.0/address-groups) print them — and
// turns it into flowgate's model with Neutron's meaning, so that the
// hypervisor agent can take over from Neutron's OVS firewall driver without
// changing what any VM may do.
//
// It is pure: callers hand in bytes, and get back decoded objects (the same
// decode.Object the YAML decoders produce) or Calico-style YAML, together
// with an error for every problem naming the file, the object and the field.
// A bad rule, port or group never hides a good one.
//
// # How Neutron maps to the model
//
//   - Each port is a WorkloadEndpoint in namespace "openstack", named by its
//     port UUID (what Nova/os-vif put in external_ids:iface-id, so the agent
//     binds it), orchestrator "openstack", with the port's MAC and fixed IPs.
//     Labels: `sg.openstack.org/<sg-id>: ""` per security group,
//     `neutron.openstack.org/network: <network-id>` (the compiler gives each
//     network a conntrack zone and confines addresses another network also
//     uses to their own network's packets),
//     `neutron.openstack.org/port-security: enabled|disabled|trusted`,
//     `neutron.openstack.org/project: <project-id>`, and
//     `neutron.openstack.org/stateful: "false"` on a filtered port whose
//     groups are stateless.
//   - Each security group is a NetworkPolicy openstack/sg-<id> (order 100)
//     that applies to filtered ports carrying the group's label, in both
//     directions, with one Allow rule per Neutron rule. Policies of one tier
//     allow what any of their rules allows and a VM is default-deny, so a port
//     gets exactly the union of its groups' rules per direction, as in Neutron;
//     a port with no group allows nothing. Neutron rules are stateful: replies
//     of an allowed connection pass, as flowgate's conntrack stage does —
//     unless the port's groups are stateless (stateful=false): then its
//     packets skip conntrack and every one, replies included, needs a rule.
//     A port mixing stateful and stateless groups is an error (Neutron
//     refuses it) and is enforced statefully.
//   - remote_group_id becomes the selector has(sg.openstack.org/<id>), so the
//     group's members are whatever ports carry the label at the moment —
//     membership follows ports as they come and go. remote_ip_prefix becomes
//     nets, remote_address_group_id a selector over the address group's
//     NetworkSet (openstack/ag-<id>), ethertype the rule's ipVersion, the
//     protocol its number (Neutron's names, "any"/0 for all, "icmp" in an
//     IPv6 rule meaning ICMPv6 as Neutron normalises it), port_range_min/max
//     the destination ports, or ICMP type and code for ICMP.
//   - The default security group needs nothing special: Neutron's own rules
//     (egress anywhere, ingress from the group itself) are in its JSON.
//   - port_security_enabled=false, and ports Neutron trusts (device_owner
//     "network:*": DHCP, router interfaces), are not filtered: the label
//     port-security=disabled or =trusted makes them policy.GuardNone (no
//     spoof guard, no conntrack, no policy of their own), and no
//     security-group policy selects them. They also carry the Calico profile
//     projectcalico-default-allow, so that Calico reads them the same. They
//     still count as members of the groups they list.
//   - Filtered ports (port-security=enabled) are policy.GuardNeutron: their
//     spoof guard admits a DHCP client's broadcasts from 0.0.0.0 (and DHCPv6
//     from link-local) without conntrack, and drops DHCP server answers (udp
//     67→68, 547→546) before conntrack, whatever their groups and
//     connections. Neutron's other rules outside security groups become the
//     policy openstack/neutron-baseline (order 0) for filtered ports: DHCP
//     client traffic out and its replies in are allowed, a DHCP server's
//     answers denied; ICMPv6 neighbour discovery, MLD and router
//     solicitation out, and router advertisements in, pass; router
//     advertisements out are denied.
//
// # Allowed address pairs
//
// Every pair becomes an endpoints.AddressPair of the port (in YAML the
// annotation neutron.openstack.org/allowed-address-pairs, "address[@MAC]"
// comma-separated): the spoof guard lets the port send from the pair's
// addresses with the pair's MAC (the port's when it names none), ARP and
// neighbour discovery included, and frames to a pair's MAC meet the port's
// ingress policy. Pairs also count as members of the port's groups: one of
// one address (10.0.0.10, /32, /128) as one of the endpoint's addresses, a
// wider one (10.1.0.0/24) through a NetworkSet (openstack/aap-<port-id>)
// carrying the port's group labels, as Neutron matches it by address. A
// pair of all addresses (0.0.0.0/0, ::/0) is a member only in packets from
// the pair's MAC (on a rule's source side; to it, on the destination
// side), whatever their address: Neutron's OVS firewall once let such a
// pair make every address a member of the port's groups, opening every
// remote-group rule that names them to the whole world (Red Hat documents
// it: a wide pair "can allow a single port to bypass security groups for
// all other ports"), and now matches such a member together with the
// pair's MAC. Neutron's flows test dl_src in both directions, which in an
// egress rule tests the sender, not the member; flowgate matches the
// member's MAC where the member is: the source of an ingress rule's
// packets, the destination (dl_dst) of an egress rule's. No other port
// gains anything from the pair, whatever address it sends from.
//
// # What the compiler must add for full Neutron semantics
//
// README.md ("Replace the Neutron OVS firewall") lists it precisely; in
// short: sharing br-int with the Neutron OVS agent (flowgate's flows only,
// relocated into Neutron's firewall tables) and cutting connections when a
// rule is removed.
package neutron
