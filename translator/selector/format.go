package selector

import "strings"

// format renders the canonical text of a tree. The canonical form is what
// makes selectors comparable: equal text means the same selector, and
// parsing the text rebuilds the same tree.
//
// Beyond what Selector.String documents, it writes "!" directly before its
// operand and spells the word operators "starts with", "ends with" and
// "not in". Parentheses appear only around an || inside an && or under a !,
// and around an && under a !. The minimal form is the one people write, and
// it re-parses identically.
func format(n *node) string {
	var b strings.Builder
	n.format(&b)
	return b.String()
}

func (n *node) format(b *strings.Builder) {
	switch n.op {
	case opAll:
		b.WriteString("all()")
	case opGlobal:
		b.WriteString("global()")
	case opHas:
		b.WriteString("has(")
		b.WriteString(n.key)
		b.WriteByte(')')
	case opEq, opNe, opContains, opStartsWith, opEndsWith:
		b.WriteString(n.key)
		b.WriteString(opText[n.op])
		writeQuoted(b, n.value)
	case opIn, opNotIn:
		b.WriteString(n.key)
		b.WriteString(opText[n.op])
		b.WriteByte('{')
		for i, v := range n.values {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(b, v)
		}
		b.WriteByte('}')
	case opNot:
		b.WriteByte('!')
		n.kids[0].formatOperand(b, opNot)
	case opAnd, opOr:
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(opText[n.op])
			}
			k.formatOperand(b, n.op)
		}
	}
}

// formatOperand writes n as an operand of parent, parenthesised when n
// binds more loosely than parent.
func (n *node) formatOperand(b *strings.Builder, parent op) {
	paren := n.op == opOr && parent != opOr || n.op == opAnd && parent == opNot
	if paren {
		b.WriteByte('(')
	}
	n.format(b)
	if paren {
		b.WriteByte(')')
	}
}

var opText = [...]string{
	opEq:         " == ",
	opNe:         " != ",
	opContains:   " contains ",
	opStartsWith: " starts with ",
	opEndsWith:   " ends with ",
	opIn:         " in ",
	opNotIn:      " not in ",
	opAnd:        " && ",
	opOr:         " || ",
}

// writeQuoted quotes v with double quotes unless v contains one, as Calico
// does. Selector strings have no escapes, so a value containing both kinds
// of quote cannot be written at all; the constructors refuse such values.
func writeQuoted(b *strings.Builder, v string) {
	q := byte('"')
	if strings.IndexByte(v, '"') >= 0 {
		q = '\''
	}
	b.WriteByte(q)
	b.WriteString(v)
	b.WriteByte(q)
}

// quotable reports whether v can be written as a selector string.
func quotable(v string) bool {
	return strings.IndexByte(v, '"') < 0 || strings.IndexByte(v, '\'') < 0
}
