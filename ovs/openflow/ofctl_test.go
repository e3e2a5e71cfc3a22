package openflow

import (
	"testing"

	"github.com/flowgate/flowgate/translator/compiler"
)

// The bundle writer formats flows itself, for speed; it must say exactly
// what Flow.String says.
func TestAppendLineIsFlowString(t *testing.T) {
	for _, f := range []compiler.Flow{
		{},
		{Table: 0, Priority: 0, Actions: "drop"},
		{Table: 31, Priority: 50000, Match: "reg7=0x5,reg6=0,tcp,tp_dst=0x1f90/0xfff0", Actions: "conjunction(11,2/2)", Cookie: compiler.NewCookie(255, compiler.CategoryRule, true, 0xffffffff)},
		{Table: 253, Priority: 65535, Match: "ip", Actions: "ct(commit,zone=NXM_NX_REG8[0..15]),NORMAL", Cookie: 1},
	} {
		if got, want := string(appendLine(nil, "add ", &f)), "add "+f.String()+"\n"; got != want {
			t.Errorf("appendLine = %q, want %q", got, want)
		}
	}
}
