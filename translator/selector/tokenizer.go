package selector

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits that keep hostile or fuzzed input from exhausting the stack or
// building enormous trees. Both are counted so that the canonical form of a
// parsed selector never exceeds them: String never adds tokens or nesting
// (it only drops redundant parentheses, repeated "!" and duplicate set
// members), so whatever Parse accepted, Parse accepts again after String.
// A byte limit would not have that property, because String re-spaces its
// input.
const (
	// maxTokens bounds the size of a selector. Generated selectors that list
	// every namespace in an "in" set are the largest seen in practice and
	// stay far below this.
	maxTokens = 1 << 16
	// maxDepth bounds parenthesis nesting, which is what the recursive
	// descent parser and the evaluator recurse on.
	maxDepth = 64
)

// kind identifies a token.
type kind uint8

const (
	kEOF        kind = iota
	kKey             // label key; text is the key
	kString          // quoted string; text is the contents without quotes
	kHas             // has(key); text is the key
	kAll             // all()
	kGlobal          // global()
	kLParen          // (
	kRParen          // )
	kLBrace          // {
	kRBrace          // }
	kComma           // ,
	kNot             // !
	kAnd             // &&
	kOr              // ||
	kEq              // ==
	kNe              // !=
	kContains        // contains
	kStartsWith      // starts with
	kEndsWith        // ends with
	kIn              // in
	kNotIn           // not in
)

// token is one lexeme together with where it started, so that errors can
// point at it.
type token struct {
	kind kind
	pos  int // byte offset of the token's first byte
	text string
}

// describe renders a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case kEOF:
		return "end of selector"
	case kKey:
		return fmt.Sprintf("label key %q", t.text)
	case kString:
		return fmt.Sprintf("string %q", t.text)
	case kHas:
		return "has(" + t.text + ")"
	case kAll:
		return "all()"
	case kGlobal:
		return "global()"
	}
	return "'" + kindText[t.kind] + "'"
}

var kindText = [...]string{
	kLParen: "(", kRParen: ")", kLBrace: "{", kRBrace: "}", kComma: ",",
	kNot: "!", kAnd: "&&", kOr: "||", kEq: "==", kNe: "!=",
	kContains: "contains", kStartsWith: "starts with", kEndsWith: "ends with",
	kIn: "in", kNotIn: "not in",
}

// blank reports whether c may separate tokens. Calico's tokenizer skips only
// spaces and tabs and rejects a newline as an unexpected character; doing
// the same keeps every selector flowgate accepts loadable by Calico itself.
func blank(c byte) bool { return c == ' ' || c == '\t' }

// keyByte reports whether c may appear in a label key. This is Calico's
// rule: ASCII letters, digits and "_./-" in any order and any number. It is
// looser than Kubernetes' qualified-name rule on purpose, because Calico
// accepts selectors such as "pcns.a/b/c == 'x'" whose keys Kubernetes would
// reject.
func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}

// validKey reports whether k can be written in a selector as a label key.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !keyByte(k[i]) {
			return false
		}
	}
	return true
}

// lexer splits a selector into tokens on demand. The parser drives it: it
// calls next where an operand or punctuation may appear and operator right
// after a label key. That split mirrors Calico, whose tokenizer recognises
// the word operators (contains, in, ...) only directly after a key, so that
// "in", "has" or "contains" remain usable as label keys elsewhere.
type lexer struct {
	src   string
	pos   int
	count int // tokens produced, for maxTokens
}

func (lx *lexer) skipBlanks() {
	for lx.pos < len(lx.src) && blank(lx.src[lx.pos]) {
		lx.pos++
	}
}

func (lx *lexer) errorf(pos int, format string, args ...any) *ParseError {
	return &ParseError{Input: lx.src, Column: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

// begin skips blanks and accounts for a new token starting at the returned
// offset. It reports done when the input is exhausted.
func (lx *lexer) begin() (start int, done bool, err *ParseError) {
	lx.skipBlanks()
	if lx.pos == len(lx.src) {
		return lx.pos, true, nil
	}
	lx.count++
	if lx.count > maxTokens {
		return lx.pos, false, lx.errorf(lx.pos, "selector is longer than %d tokens", maxTokens)
	}
	return lx.pos, false, nil
}

// next lexes the token at the current position in operand context.
func (lx *lexer) next() (token, *ParseError) {
	start, done, err := lx.begin()
	if done || err != nil {
		return token{kind: kEOF, pos: start}, err
	}
	if t, ok, err := lx.punct(start); ok || err != nil {
		return t, err
	}
	rest := lx.src[start:]
	switch {
	case strings.HasPrefix(rest, "has("):
		return lx.has(start)
	case strings.HasPrefix(rest, "all("):
		return lx.emptyCall(start, len("all("), kAll)
	case strings.HasPrefix(rest, "global("):
		return lx.emptyCall(start, len("global("), kGlobal)
	}
	if key := lx.key(); key != "" {
		return token{kind: kKey, pos: start, text: key}, nil
	}
	return token{}, lx.unexpected(start)
}

// operator lexes the comparison operator that must follow the label key.
func (lx *lexer) operator(key string) (token, *ParseError) {
	start, done, err := lx.begin()
	if err != nil {
		return token{}, err
	}
	if !done {
		if t, ok, err := lx.punct(start); err != nil || ok && (t.kind == kEq || t.kind == kNe) {
			return t, err
		}
		// Like Calico, the word operators are matched as prefixes, so
		// "in{" and "contains'x'" need no blank, and the two-word
		// operators accept any blanks (or none) between their words.
		rest := lx.src[start:]
		switch {
		case strings.HasPrefix(rest, "contains"):
			lx.pos += len("contains")
			return token{kind: kContains, pos: start}, nil
		case strings.HasPrefix(rest, "starts"):
			return lx.secondWord(start, len("starts"), "with", kStartsWith)
		case strings.HasPrefix(rest, "ends"):
			return lx.secondWord(start, len("ends"), "with", kEndsWith)
		case strings.HasPrefix(rest, "not"):
			return lx.secondWord(start, len("not"), "in", kNotIn)
		case strings.HasPrefix(rest, "in"):
			lx.pos += len("in")
			return token{kind: kIn, pos: start}, nil
		}
	}
	return token{}, lx.errorf(start,
		"expected an operator (==, !=, in, not in, contains, starts with, ends with) after label key %q", key)
}

func (lx *lexer) secondWord(start, firstLen int, word string, k kind) (token, *ParseError) {
	first := lx.src[start : start+firstLen]
	lx.pos += firstLen
	lx.skipBlanks()
	if !strings.HasPrefix(lx.src[lx.pos:], word) {
		return token{}, lx.errorf(lx.pos, "expected %q after %q", word, first)
	}
	lx.pos += len(word)
	return token{kind: k, pos: start}, nil
}

// punct lexes punctuation and quoted strings, which mean the same in every
// context. ok is false when the input does not start with one.
func (lx *lexer) punct(start int) (t token, ok bool, err *ParseError) {
	src := lx.src
	c := src[start]
	second := byte(0)
	if start+1 < len(src) {
		second = src[start+1]
	}
	t = token{pos: start}
	width := 1
	switch c {
	case '(':
		t.kind = kLParen
	case ')':
		t.kind = kRParen
	case '{':
		t.kind = kLBrace
	case '}':
		t.kind = kRBrace
	case ',':
		t.kind = kComma
	case '"', '\'':
		end := strings.IndexByte(src[start+1:], c)
		if end < 0 {
			return t, false, lx.errorf(start, "unterminated string: no closing %c", c)
		}
		t.kind, t.text = kString, src[start+1:start+1+end]
		width = end + 2
	case '=':
		if second != '=' {
			return t, false, lx.errorf(start, "expected '==': a single '=' is not an operator")
		}
		t.kind, width = kEq, 2
	case '!':
		t.kind = kNot
		if second == '=' {
			t.kind, width = kNe, 2
		}
	case '&':
		if second != '&' {
			return t, false, lx.errorf(start, "expected '&&': a single '&' is not an operator")
		}
		t.kind, width = kAnd, 2
	case '|':
		if second != '|' {
			return t, false, lx.errorf(start, "expected '||': a single '|' is not an operator")
		}
		t.kind, width = kOr, 2
	default:
		return t, false, nil
	}
	lx.pos = start + width
	return t, true, nil
}

// key consumes a label key at the current position; "" means none is there.
func (lx *lexer) key() string {
	start := lx.pos
	for lx.pos < len(lx.src) && keyByte(lx.src[lx.pos]) {
		lx.pos++
	}
	return lx.src[start:lx.pos]
}

// has lexes "has(key)" as a single token, as Calico does; blanks are allowed
// inside the parentheses but not between "has" and "(".
func (lx *lexer) has(start int) (token, *ParseError) {
	lx.pos = start + len("has(")
	lx.skipBlanks()
	keyPos := lx.pos
	key := lx.key()
	if key == "" {
		return token{}, lx.errorf(keyPos, "expected a label key inside has()")
	}
	lx.skipBlanks()
	if lx.pos == len(lx.src) || lx.src[lx.pos] != ')' {
		return token{}, lx.errorf(lx.pos, "expected ')' to close has(%s", key)
	}
	lx.pos++
	return token{kind: kHas, pos: start, text: key}, nil
}

// emptyCall lexes all() and global(), which take no argument.
func (lx *lexer) emptyCall(start, openLen int, k kind) (token, *ParseError) {
	lx.pos = start + openLen
	lx.skipBlanks()
	if lx.pos == len(lx.src) || lx.src[lx.pos] != ')' {
		return token{}, lx.errorf(lx.pos, "expected ')' to close %s", lx.src[start:start+openLen])
	}
	lx.pos++
	return token{kind: k, pos: start}, nil
}

func (lx *lexer) unexpected(pos int) *ParseError {
	r, size := utf8.DecodeRuneInString(lx.src[pos:])
	switch {
	case r == utf8.RuneError && size <= 1:
		return lx.errorf(pos, "unexpected byte 0x%02x", lx.src[pos])
	case r == '\n' || r == '\r' || r == '\v' || r == '\f':
		return lx.errorf(pos, "unexpected character %q: only spaces and tabs may separate tokens", r)
	}
	return lx.errorf(pos, "unexpected character %q", r)
}
