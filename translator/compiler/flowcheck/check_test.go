package flowcheck

import (
	"strings"
	"testing"
)

func TestParseMatchDisjoint(t *testing.T) {
	for _, tc := range []struct {
		a, b     string
		disjoint bool
	}{
		{"tcp,tcp_dst=80", "udp,udp_dst=80", true},
		{"tcp,tcp_dst=80", "tcp6,tcp_dst=80", true},
		{"tcp,tcp_dst=80", "tcp,tp_dst=80", false},
		{"tcp,tcp_dst=0x1f40/0xffc0", "tcp,tcp_dst=8000", false},
		{"tcp,tcp_dst=0x1f40/0xffc0", "tcp,tcp_dst=8064", true},
		{"ip,nw_src=10.0.0.0/8", "ip,nw_src=10.1.2.3", false},
		{"ip,nw_src=10.0.0.0/8", "ip,nw_src=11.1.2.3", true},
		{"ip,nw_src=10.0.0.0/255.0.0.0", "ip,nw_src=11.1.2.3", true},
		{"ip,nw_src=10.0.0.1", "ip,nw_dst=10.0.0.2", false},
		{"ipv6,ipv6_src=fd00::/16", "ipv6,ipv6_src=fd01::1", true},
		{"ipv6,ipv6_src=fd00::/16", "ipv6,ipv6_src=fd00:1::1", false},
		{"ipv6,ipv6_src=fd00::1:0:0:0:0/80", "ipv6,ipv6_src=fd00::1:0:0:0:5", false},
		{"ipv6,ipv6_src=fd00::1:0:0:0:0/80", "ipv6,ipv6_src=fd00::2:0:0:0:5", true},
		{"ip", "arp", true},
		{"ip", "", false},
		{"reg6=0,reg7=0x5", "reg6=0,reg7=0x6,tcp", true},
		{"reg5=0/0x1", "reg5=0x1/0x1", true},
		{"reg5=0/0x1", "reg5=0x2/0x2", false},
		{"ct_state=+inv+trk", "ct_state=+est+trk", false},
		{"ct_state=+inv+trk", "ct_state=-inv+trk", true},
		{"in_port=1,dl_src=02:00:00:00:00:01", "in_port=1,dl_src=02:00:00:00:00:02", true},
		{"dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", "dl_dst=02:00:00:00:00:01", true},
		{"icmp,icmp_type=8", "icmp,icmp_type=0", true},
		{"icmp6,icmpv6_type=135,nd_sll=00:00:00:00:00:00", "icmp6,icmpv6_type=135,nd_sll=02:00:00:00:00:01", true},
		{"conj_id=5", "conj_id=7", true},
	} {
		a, err := ParseMatch(tc.a)
		if err != nil {
			t.Fatalf("%s: %v", tc.a, err)
		}
		b, err := ParseMatch(tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.b, err)
		}
		if got := Disjoint(a, b); got != tc.disjoint || Disjoint(b, a) != got {
			t.Errorf("Disjoint(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.disjoint)
		}
	}
}

func TestParseMatchRejects(t *testing.T) {
	for _, tc := range []struct{ match, want string }{
		{"tcp,udp", "contradicts itself"},
		{"tcp_dst=80", "without its prerequisites"},
		{"ip,tcp_dst=80", "without its prerequisites"},
		{"nw_src=10.0.0.1", "without its prerequisites"},
		{"ipv6,nw_src=10.0.0.1", "without its prerequisites"},
		{"ip,nw_src=fd00::1", "bad address"},
		{"icmp6,nd_target=fd00::1", "without its prerequisites"},
		{"tcp,tcp_dst=70000", "out of range"},
		{"vlan_tci=0x1000", "unknown field"},
		{"ip,nw_src=10.0.0.0/255.0.255.0", "non-contiguous"},
		{"ct_state=+bogus", "unknown ct_state flag"},
		{"tcp,nonsense", "neither a protocol"},
	} {
		_, err := ParseMatch(tc.match)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMatch(%q) = %v, want an error containing %q", tc.match, err, tc.want)
		}
	}
}

func problems(flows ...Flow) []string {
	var out []string
	for _, p := range Check(flows) {
		out = append(out, p.String())
	}
	return out
}

func TestCheck(t *testing.T) {
	allow := "load:0x1->NXM_NX_REG6[]"
	deny := "load:0x2->NXM_NX_REG6[]"
	f := func(prio uint16, match, actions string) Flow {
		return Flow{Table: 61, Priority: prio, Match: match, Actions: actions}
	}
	for _, tc := range []struct {
		name  string
		flows []Flow
		want  string // "" for no problem, else a substring of the one problem
	}{
		{"disjoint plain flows", []Flow{f(100, "tcp,tcp_dst=80", allow), f(100, "tcp,tcp_dst=81", deny)}, ""},
		{"overlap with the same actions", []Flow{f(100, "tcp", allow), f(100, "tcp,tcp_dst=81", allow)}, ""},
		{"overlap at different priorities", []Flow{f(100, "tcp", allow), f(101, "tcp,tcp_dst=81", deny)}, ""},
		{"overlap with different actions", []Flow{f(100, "tcp", allow), f(100, "ip,nw_src=10.0.0.1", deny)}, "overlapping flows"},
		{"same match twice", []Flow{f(100, "tcp", allow), f(100, "tcp", deny)}, "two flows with one match"},
		{"a conjunction", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2)"), f(100, "ip,nw_src=10.0.0.2", "conjunction(4,1/2)"),
			f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow)}, ""},
		{"a conjunction without its conj_id flow", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)")}, "no conj_id flow"},
		{"a conjunction missing a clause", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/3)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/3)"), f(100, "conj_id=4", allow)}, "no flow for clause 3/3"},
		{"conjunctions told apart by a register", []Flow{
			f(100, "reg7=0x1,ip,nw_src=10.0.0.1", "conjunction(4,1/2)"), f(100, "reg7=0x1,tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow),
			f(100, "reg7=0x2,ip,nw_src=10.0.0.1", "conjunction(6,1/2)"), f(100, "reg7=0x2,tcp,tcp_dst=80", "conjunction(6,2/2)"), f(100, "conj_id=6", deny)}, ""},
		{"conjunctions told apart by one clause", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2),conjunction(6,1/2)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow),
			f(100, "tcp,tcp_dst=81", "conjunction(6,2/2)"), f(100, "conj_id=6", deny)}, ""},
		{"overlapping conjunctions", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow),
			f(100, "ip,nw_src=10.0.0.0/24", "conjunction(6,1/2)"), f(100, "tcp,tcp_dst=0x50/0xfff0", "conjunction(6,2/2)"), f(100, "conj_id=6", allow)}, "can both match"},
		{"merged clause flows", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2),conjunction(5,1/2)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow),
			f(100, "udp,udp_dst=80", "conjunction(5,2/2)"), f(100, "conj_id=5", deny)}, ""},
		{"conjunctions told apart by their guards", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2),conjunction(5,1/2)"), f(100, "tcp", "conjunction(4,2/2),conjunction(5,2/2)"),
			f(100, "conj_id=4,reg5=0/0x1", allow), f(100, "conj_id=5,reg5=0x1/0x1", deny)}, ""},
		{"a conjunction overlapping a plain flow", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow),
			f(100, "tcp,tcp_src=1000", deny)}, "overlaps a flow with other actions"},
		{"a conjunction beside a disjoint plain flow", []Flow{
			f(100, "ip,nw_src=10.0.0.1", "conjunction(4,1/2)"), f(100, "tcp,tcp_dst=80", "conjunction(4,2/2)"), f(100, "conj_id=4", allow),
			f(100, "udp,udp_src=1000", deny)}, ""},
		{"conjunction mixed with other actions", []Flow{f(100, "tcp", "conjunction(4,1/2),drop")}, "mixed"},
		{"a conjunction of one clause", []Flow{f(100, "tcp", "conjunction(4,1/1)")}, "malformed"},
		{"a match the checker does not know", []Flow{f(100, "tun_id=5", allow)}, "unknown field"},
	} {
		got := problems(tc.flows...)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: unexpected problems: %q", tc.name, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
			t.Errorf("%s: problems %q, want one containing %q", tc.name, got, tc.want)
		}
	}
}
