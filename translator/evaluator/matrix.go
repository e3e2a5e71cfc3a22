package evaluator

import (
	"net/netip"

	"github.com/flowgate/flowgate/translator/policy"
)

// Participant is one row/column of a reachability matrix: an endpoint or
// an address outside the world.
type Participant struct {
	// Name is the endpoint's ID, or the address for outsiders.
	Name string
	// Endpoint is nil for outside addresses.
	Endpoint *policy.Endpoint
	// Addrs are the addresses the participant sends from and is reached at.
	Addrs []netip.Addr
}

// Namespace is the participant's namespace: "" for host endpoints and
// outside addresses.
func (p Participant) Namespace() string {
	if p.Endpoint == nil {
		return ""
	}
	return p.Endpoint.Namespace
}

// Service is one protocol and destination port to probe; Port is ignored
// for ICMP (an echo request is probed).
type Service struct {
	// Protocol is the IP protocol.
	Protocol policy.Protocol
	// Port is the destination port.
	Port uint16
}

// MatrixRow is one cell of the truth table.
type MatrixRow struct {
	// From and To name the participants.
	From string `json:"from"`
	To   string `json:"to"`
	// Protocol is the protocol's lower-case name.
	Protocol string `json:"protocol"`
	// Port is the destination port (0 for ICMP).
	Port uint16 `json:"port"`
	// Allowed is the verdict.
	Allowed bool `json:"allowed"`
	// Reason names the deciding tier/policy/rule or default.
	Reason string `json:"reason"`
}

// Cell is a row with the verdict behind it, for views that show egress
// and ingress apart (diff, the HTML matrix).
type Cell struct {
	MatrixRow
	// Verdict holds each side's decision (none when the participants
	// have no addresses of a common family).
	Verdict Verdict
}

// SourcePort is the source port probes use; rules rarely match on it, and
// a fixed value keeps the matrix deterministic.
const SourcePort = 40000

// Participants lists every endpoint of the world that has an address (in
// world order) followed by the outside addresses.
func (ev *Evaluator) Participants(outside []netip.Addr) []Participant {
	var ps []Participant
	for _, e := range ev.world.Endpoints {
		if len(e.IPs) > 0 {
			ps = append(ps, Participant{Name: e.ID(), Endpoint: e, Addrs: e.IPs})
		}
	}
	for _, a := range outside {
		ps = append(ps, Participant{Name: a.String(), Endpoint: ev.EndpointAt(a), Addrs: []netip.Addr{a}})
	}
	return ps
}

// Matrix evaluates every ordered pair of distinct participants (outside to
// outside excepted) for every service.
func (ev *Evaluator) Matrix(ps []Participant, services []Service) []MatrixRow {
	var rows []MatrixRow
	for _, c := range ev.MatrixCells(ps, services) {
		rows = append(rows, c.MatrixRow)
	}
	return rows
}

// MatrixCells is Matrix with each row's verdict.
func (ev *Evaluator) MatrixCells(ps []Participant, services []Service) []Cell {
	var cells []Cell
	for _, from := range ps {
		for _, to := range ps {
			if from.Name == to.Name || (from.Endpoint == nil && to.Endpoint == nil) {
				continue
			}
			for _, svc := range services {
				cells = append(cells, ev.probe(from, to, svc))
			}
		}
	}
	return cells
}

func (ev *Evaluator) probe(from, to Participant, svc Service) Cell {
	row := MatrixRow{From: from.Name, To: to.Name, Protocol: svc.Protocol.String(), Port: svc.Port}
	src, dst, ok := commonFamily(from.Addrs, to.Addrs)
	if !ok {
		row.Reason = "no addresses of a common IP family"
		return Cell{MatrixRow: row}
	}
	pkt := Packet{Src: src, Dst: dst, Protocol: svc.Protocol, SrcPort: SourcePort, DstPort: svc.Port}
	if svc.Protocol.IsICMP() {
		row.Port, pkt.DstPort, pkt.SrcPort = 0, 0, 0
		pkt.Protocol, pkt.ICMPType = policy.ICMP, 8
		if src.Is6() {
			pkt.Protocol, pkt.ICMPType = policy.ICMPv6, 128
		}
	}
	v := ev.Evaluate(from.Endpoint, to.Endpoint, pkt)
	row.Allowed, row.Reason = v.Allowed, v.Reason()
	return Cell{MatrixRow: row, Verdict: v}
}

// commonFamily picks the first source and destination address of one
// family, IPv4 first.
func commonFamily(from, to []netip.Addr) (netip.Addr, netip.Addr, bool) {
	for _, v4 := range []bool{true, false} {
		var s, d netip.Addr
		for _, a := range from {
			if a.Is4() == v4 {
				s = a
				break
			}
		}
		for _, a := range to {
			if a.Is4() == v4 {
				d = a
				break
			}
		}
		if s.IsValid() && d.IsValid() {
			return s, d, true
		}
	}
	return netip.Addr{}, netip.Addr{}, false
}
