package endpoints

import (
	"context"
	"testing"
	"time"

	"github.com/flowgate/flowgate/translator/decode"
)

func TestMerge(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := make(chan Snapshot, 1), make(chan Snapshot, 1)
	out := Merge(ctx, a, nil, b)
	a <- Snapshot{Objects: []decode.Object{{Name: "a1"}}}
	select {
	case s := <-out:
		t.Fatalf("sent %v before every source had a snapshot", s)
	case <-time.After(50 * time.Millisecond):
	}
	b <- Snapshot{Objects: []decode.Object{{Name: "b1"}}}
	if s := <-out; len(s.Objects) != 2 || s.Objects[0].Name != "a1" || s.Objects[1].Name != "b1" {
		t.Fatalf("merged %v", s.Objects)
	}
	a <- Snapshot{Objects: []decode.Object{{Name: "a2"}}}
	if s := <-out; len(s.Objects) != 2 || s.Objects[0].Name != "a2" || s.Objects[1].Name != "b1" {
		t.Fatalf("merged %v", s.Objects)
	}
}
