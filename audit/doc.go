// Package audit turns the packets that Log rules send to the controller
// into the audit log: one JSON line per logged connection naming the
// bridge, direction, tier, policy, rule, the action that followed, the
// packet's addresses, protocol, ports or ICMP type/code, and the
// endpoints on either side.
//
// It is best effort by design: the switch has already forwarded or
// dropped the packet when its copy arrives (a controller action does not
// pause the pipeline), so nothing here can delay or change a verdict.
// What cannot be logged — over the rate limit, behind a full queue — is
// counted and reported, never silently lost.
package audit
