package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Flow is one OpenFlow flow in ovs-ofctl syntax. Match and Actions are
// canonical text: the compiler always builds them the same way, so two
// flows are the same flow exactly when their text is equal.
type Flow struct {
	// Table is the OpenFlow table number.
	Table uint8
	// Priority orders overlapping flows of one table.
	Priority uint16
	// Match is the match in ovs-ofctl syntax ("" matches everything).
	Match string
	// Actions are the actions in ovs-ofctl syntax.
	Actions string
	// Cookie says what produced the flow (see Cookie).
	Cookie Cookie
}

// Key identifies a flow in its table: OpenFlow allows one flow per table,
// priority and match.
func (f Flow) Key() FlowKey { return FlowKey{f.Table, f.Priority, f.Match} }

// FlowKey is what OpenFlow uses to tell flows apart.
type FlowKey struct {
	Table    uint8
	Priority uint16
	Match    string
}

// String formats the flow for ovs-ofctl add-flows.
func (f Flow) String() string { return f.format(fmt.Sprint(f.Table)) }

// Named formats the flow with the table's name, as the golden files and
// `ovs-ofctl dump-flows --names` show it: OVS quotes a table name that is
// not all letters and digits (table="ingress_rules").
func (f Flow) Named() string { return f.format(namedTable(f.Table)) }

func namedTable(id uint8) string { return quoteTableName(TableName(id)) }

// quoteTableName quotes a table name as OVS prints it.
func quoteTableName(name string) string {
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return `"` + name + `"`
		}
	}
	return name
}

func (f Flow) format(table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cookie=%#x, table=%s, priority=%d", uint64(f.Cookie), table, f.Priority)
	if f.Match != "" {
		b.WriteString(",")
		b.WriteString(f.Match)
	}
	b.WriteString(" actions=")
	b.WriteString(f.Actions)
	return b.String()
}

// SortFlows orders flows by table, descending priority, then match: the
// order a reader of a dump expects, and a deterministic one. Actions and
// cookie break ties, so that even a set with a key twice (which cannot be
// installed) sorts the same way every time.
func SortFlows(fs []Flow) {
	slices.SortFunc(fs, compareFlows)
}

func compareFlows(a, b Flow) int {
	if c := cmp.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := strings.Compare(a.Match, b.Match); c != 0 {
		return c
	}
	if c := strings.Compare(a.Actions, b.Actions); c != 0 {
		return c
	}
	return cmp.Compare(a.Cookie, b.Cookie)
}

// Delta is the change between two flow sets.
type Delta struct {
	// Add are flows that are new.
	Add []Flow
	// Delete are flows that are gone.
	Delete []Flow
	// Modify are flows whose key stays but whose actions or cookie change
	// (the new version).
	Modify []Flow
}

// Empty reports whether the delta changes nothing.
func (d Delta) Empty() bool { return len(d.Add)+len(d.Delete)+len(d.Modify) == 0 }

// Len is the number of flow operations in the delta.
func (d Delta) Len() int { return len(d.Add) + len(d.Delete) + len(d.Modify) }

// Diff returns what turns old into new. Both must have unique keys.
func Diff(old, new []Flow) Delta {
	before := make(map[FlowKey]Flow, len(old))
	for _, f := range old {
		before[f.Key()] = f
	}
	var d Delta
	for _, f := range new {
		o, ok := before[f.Key()]
		switch {
		case !ok:
			d.Add = append(d.Add, f)
		case o.Actions != f.Actions || o.Cookie != f.Cookie:
			d.Modify = append(d.Modify, f)
		}
		delete(before, f.Key())
	}
	for _, f := range before {
		d.Delete = append(d.Delete, f)
	}
	d.sort()
	return d
}

func (d *Delta) sort() {
	SortFlows(d.Add)
	SortFlows(d.Delete)
	SortFlows(d.Modify)
}

// Cookie records what produced a flow: a generation (so a restarted agent
// can tell its own new flows from the previous run's), a category, and the
// rule id or endpoint ofport.
type Cookie uint64

// Cookie categories: every kind of flow flowgate installs, in one place
// (docs/pipeline.md's cookie row lists them: TestCookieCategoriesDocumented).
const (
	CategoryPipeline  = 1    // fixed pipeline flows
	CategoryEndpoint  = 2    // classify, spoof guard, destination of one endpoint
	CategoryDispatch  = 3    // dispatch (and failsafes) of one endpoint
	CategoryRule      = 4    // a policy rule
	CategoryExclusion = 5    // a rule's negations
	CategoryTierEnd   = 6    // a tier's default deny (id: the tier number)
	CategoryHold      = 0x10 // the hold of a workload port bound to no endpoint (HoldFlows)
	CategoryEntry     = 0x20 // a shared bridge's entry flow (Shared.EntryFlows)
)

// Categories are the cookie categories as docs/pipeline.md names them.
var Categories = []struct {
	// Value is the category (cookie bits 48–55); Doc how the docs name it.
	Value uint8
	Doc   string
}{
	{CategoryPipeline, "1 pipeline"},
	{CategoryEndpoint, "2 endpoint"},
	{CategoryDispatch, "3 dispatch"},
	{CategoryRule, "4 rule"},
	{CategoryExclusion, "5 exclusion"},
	{CategoryTierEnd, "6 tier default"},
	{CategoryHold, "0x10 hold of an unbound workload port"},
	{CategoryEntry, "0x20 entry flow of a shared bridge"},
}

// NewCookie packs a cookie.
func NewCookie(generation uint8, category uint8, ingress bool, id uint32) Cookie {
	c := uint64(generation)<<56 | uint64(category)<<48 | uint64(id)
	if ingress {
		c |= 1 << 32
	}
	return Cookie(c)
}

// Generation is the cookie's generation.
func (c Cookie) Generation() uint8 { return uint8(c >> 56) }

// Category is what kind of flow the cookie marks.
func (c Cookie) Category() uint8 { return uint8(c >> 48) }

// Ingress reports whether the flow belongs to the ingress direction.
func (c Cookie) Ingress() bool { return c&(1<<32) != 0 }

// ID is the rule id (policy number << 12 | rule slot) or endpoint ofport.
func (c Cookie) ID() uint32 { return uint32(c) }

// WithGeneration returns the cookie with another generation.
func (c Cookie) WithGeneration(g uint8) Cookie {
	return Cookie(uint64(c)&^(0xff<<56) | uint64(g)<<56)
}
