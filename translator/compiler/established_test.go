package compiler

import (
	"strings"
	"testing"
)

// TestEstablishedModes: survive switches established packets without
// policy; cut sends the initiator's established packets through the
// policy, and a clone of each reply turned into the initiator's packet,
// marks denied connections and drops them, and keeps Log to new
// connections; cut-initiator does the same without the replies' check.
func TestEstablishedModes(t *testing.T) {
	w := loadExample(t, "calico-getting-started/log-and-deny")
	compile := func(m Established) []Flow {
		c, errs := New(w, Options{Locals: AllLocal(w, ""), Established: m})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		checkOverlaps(t, m.String(), c.Flows())
		return c.Flows()
	}
	has := func(fs []Flow, table Table, match, actions string) bool {
		for _, f := range fs {
			if f.Table == table.ID && f.Match == match && f.Actions == actions {
				return true
			}
		}
		return false
	}
	survive, cut, initiator := compile(EstablishedSurvive), compile(EstablishedCut), compile(EstablishedCutInitiator)
	if !has(survive, TableConntrackState, "ct_state=+est+trk", "NORMAL") {
		t.Error("survive: established packets must be switched without policy")
	}
	want := []struct {
		table          Table
		match, actions string
		initiatorToo   bool // cut-initiator has it as well
	}{
		{TableConntrackState, "ct_state=+trk,ct_mark=0x2/0x2", "drop", true},
		{TableConntrackState, "ct_state=+est-rel-rpl+trk", "goto_table:30", true},
		{TableConntrackState, "ct_state=+est-rel+rpl+trk,tcp", "clone(resubmit(,22),push:NXM_OF_ETH_DST[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],pop:NXM_OF_ETH_SRC[]," +
			"move:NXM_NX_CT_NW_SRC[]->NXM_OF_IP_SRC[],move:NXM_NX_CT_NW_DST[]->NXM_OF_IP_DST[]," +
			"move:NXM_NX_CT_TP_SRC[]->NXM_OF_TCP_SRC[],move:NXM_NX_CT_TP_DST[]->NXM_OF_TCP_DST[],resubmit(,30)),NORMAL", false},
		{TableCommit, "ct_state=+est+rpl+trk", "drop", false},
		{TableReplyInitiator, "", "set_field:0x0->reg0", false},
		{TableEgressVerdict, "ct_state=+est+trk,ip", "ct(commit,zone=NXM_NX_REG8[0..15],exec(set_field:0x2/0x2->ct_mark))", true},
		{TableIngressVerdict, "ct_state=+est+trk,ipv6", "ct(commit,zone=NXM_NX_REG8[0..15],exec(set_field:0x2/0x2->ct_mark))", true},
		{TableCommit, "ct_state=+est+trk", "NORMAL", true},
	}
	for _, w := range want {
		if !has(cut, w.table, w.match, w.actions) {
			t.Errorf("cut: missing %s %s actions=%s", w.table.Name, w.match, w.actions)
		}
		if has(survive, w.table, w.match, w.actions) {
			t.Errorf("survive: unexpected %s %s", w.table.Name, w.match)
		}
		if has(initiator, w.table, w.match, w.actions) != w.initiatorToo {
			t.Errorf("cut-initiator: %s %s present %v, want %v", w.table.Name, w.match, !w.initiatorToo, w.initiatorToo)
		}
	}
	if !has(initiator, TableConntrackState, "ct_state=+est+rpl+trk", "NORMAL") {
		t.Error("cut-initiator: replies must be switched without policy")
	}
	for _, m := range []string{"ct_state=+est+trk", "ct_state=+est+rpl+trk"} {
		if has(cut, TableConntrackState, m, "NORMAL") {
			t.Errorf("cut: %s must not bypass policy", m)
		}
	}
	// Every local endpoint can be found as a reply's initiator.
	initiators := 0
	for _, f := range cut {
		if f.Table == TableReplyInitiator.ID && strings.HasPrefix(f.Match, "dl_dst=") {
			initiators++
		}
	}
	if want := len(AllLocal(w, "")); initiators != want {
		t.Errorf("cut: %d reply_initiator flows, want one per local endpoint (%d)", initiators, want)
	}
	// The Log rule's flows (its cookie) match new connections only in
	// cut mode, so established packets do not reach the controller.
	logCookies := map[Cookie]bool{}
	for _, f := range cut {
		if strings.Contains(f.Actions, "controller(") {
			logCookies[f.Cookie] = true
		}
	}
	if len(logCookies) == 0 {
		t.Fatal("the world has no Log rule: the test proves nothing")
	}
	for _, f := range append(cut, initiator...) {
		if logCookies[f.Cookie] && strings.Contains(f.Match, "reg7=") && !strings.Contains(f.Match, "ct_state=-est") {
			t.Errorf("cut: Log rule flow %q would log every established packet", f.Match)
		}
	}
	for _, m := range []Established{EstablishedSurvive, EstablishedCut, EstablishedCutInitiator} {
		if got, err := ParseEstablished(m.String()); err != nil || got != m {
			t.Errorf("ParseEstablished(%q) = %v, %v", m, got, err)
		}
	}
}
