package selector

import (
	"runtime"
	"sync"
	"weak"
)

// tree is the shared, immutable body of a Selector: its syntax tree and
// canonical text.
type tree struct {
	root *node
	text string
}

// interned maps canonical text to the one live tree with that text. Because
// every Selector is built through intern, two Selectors are == exactly when
// their canonical texts are equal, which lets callers use Selector directly
// as a map key to share work between policies that repeat a selector (one
// IP set per distinct selector, as Calico does). Entries are weak so that
// selectors nobody holds any more are collected.
var interned = struct {
	sync.Mutex
	m map[string]weak.Pointer[tree]
}{m: make(map[string]weak.Pointer[tree])}

// intern returns the live tree whose text is that of root, creating it if
// there is none.
func intern(root *node) *tree {
	text := format(root)
	interned.Lock()
	defer interned.Unlock()
	if t := interned.m[text].Value(); t != nil {
		return t
	}
	t := &tree{root: root, text: text}
	interned.m[text] = weak.Make(t)
	runtime.AddCleanup(t, forget, text)
	return t
}

// forget drops the entry for text once its tree has been collected, unless
// a newer tree with the same text has taken the slot meanwhile.
func forget(text string) {
	interned.Lock()
	defer interned.Unlock()
	if wp, ok := interned.m[text]; ok && wp.Value() == nil {
		delete(interned.m, text)
	}
}
