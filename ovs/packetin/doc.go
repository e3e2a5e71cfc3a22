// Package packetin uses flowgate's OpenFlow connection (ovs/ofconn) to a bridge for
// the packets flows send to the controller (the Log action's
// controller(userdata=…)), and for the meter that rate-limits them.
//
// It connects to the bridge's management socket (<rundir>/<bridge>.mgmt,
// the one ovs-ofctl uses) as a service connection: nothing in OVSDB
// changes, the bridge keeps fail_mode=secure and every other controller,
// and forwarding never waits for it — a controller action sends a copy of
// the packet and the pipeline goes on. A service connection receives
// asynchronous messages only once it sets a nonzero miss_send_len, which
// Dial does, and packet-ins arrive as NXT_PACKET_IN2 so that they carry
// the flow's userdata.
package packetin
