package endpoints

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/translator/decode"
)

func TestMerge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := make(chan Snapshot, 1), make(chan Snapshot, 1)
	out := Merge(ctx, a, nil, b)
	a <- Snapshot{Objects: []decode.Object{decode.NewObject(decode.ObjectInfo{Name: "a1"})}}
	select {
	case s := <-out:
		t.Fatalf("sent %v before every source had a snapshot", s)
	case <-time.After(50 * time.Millisecond):
	}
	b <- Snapshot{Objects: []decode.Object{decode.NewObject(decode.ObjectInfo{Name: "b1"})}}
	if s := <-out; len(s.Objects) != 2 || s.Objects[0].Name != "a1" || s.Objects[1].Name != "b1" {
		t.Fatalf("merged %v", s.Objects)
	}
	a <- Snapshot{Objects: []decode.Object{decode.NewObject(decode.ObjectInfo{Name: "a2"})}}
	if s := <-out; len(s.Objects) != 2 || s.Objects[0].Name != "a2" || s.Objects[1].Name != "b1" {
		t.Fatalf("merged %v", s.Objects)
	}
}

// TestMergeKeepsEnforcedDuplicate: an object two sources define is taken
// from one only, reported with both places; the source that had it in
// force keeps it when another starts defining it too, whatever their
// order; when neither had it, the first source in argument order wins.
func TestMergeKeepsEnforcedDuplicate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obj := func(name, file string) decode.Object {
		return decode.NewObject(decode.ObjectInfo{Kind: "GlobalNetworkPolicy", Name: name, Origin: decode.Origin{File: file, Line: 1}})
	}
	a, b := make(chan Snapshot, 1), make(chan Snapshot, 1)
	out := Merge(ctx, a, b)
	a <- Snapshot{}
	b <- Snapshot{Objects: []decode.Object{obj("deny", "kube")}}
	if s := <-out; len(s.Objects) != 1 || s.Objects[0].Origin.File != "kube" || len(s.Problems) != 0 {
		t.Fatalf("before the duplicate: %v %v", s.Objects, s.Problems)
	}
	// The earlier source now defines it too: the enforced copy stays.
	a <- Snapshot{Objects: []decode.Object{obj("deny", "a.yaml"), obj("other", "a.yaml")}}
	s := <-out
	if len(s.Objects) != 2 || s.Objects[0].Name != "other" || s.Objects[1].Origin.File != "kube" {
		t.Fatalf("duplicate newcomer displaced the enforced object: %v", s.Objects)
	}
	if len(s.Problems) != 1 || !strings.Contains(s.Problems[0].Error(), "a.yaml:1: GlobalNetworkPolicy deny") ||
		!strings.Contains(s.Problems[0].Error(), "already defined at kube:1") {
		t.Fatalf("problems %v", s.Problems)
	}
	// The owner drops it: the other copy takes over at once.
	b <- Snapshot{}
	if s := <-out; len(s.Objects) != 2 || s.Objects[0].Origin.File != "a.yaml" || len(s.Problems) != 0 {
		t.Fatalf("after the owner dropped it: %v %v", s.Objects, s.Problems)
	}
	// Both define it from the start of a new merge: the first source wins.
	c, d := make(chan Snapshot, 1), make(chan Snapshot, 1)
	out2 := Merge(ctx, c, d)
	c <- Snapshot{Objects: []decode.Object{obj("deny", "c.yaml")}}
	d <- Snapshot{Objects: []decode.Object{obj("deny", "d.yaml")}}
	if s := <-out2; len(s.Objects) != 1 || s.Objects[0].Origin.File != "c.yaml" || len(s.Problems) != 1 {
		t.Fatalf("both from the start: %v %v", s.Objects, s.Problems)
	}
}
