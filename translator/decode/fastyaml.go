package decode

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// fastYAMLToJSON converts one YAML document in the block style that
// kubectl, calicoctl and generators write (indented mappings and
// sequences, plain and simply quoted one-line scalars, {} and [], full-line
// comments) into exactly the JSON sigs.k8s.io/yaml's YAMLToJSONStrict
// makes of it: keys sorted, scalars resolved by go-yaml v2's YAML 1.1
// rules, strings escaped as encoding/json escapes them. It reports false
// for anything outside that subset, and for anything it cannot resolve
// with certainty (a duplicate key, a scalar that may be a float, a
// timestamp or a non-decimal integer, a comment after a value, a tab, a
// non-ASCII byte), and the caller then runs the YAML parser: the answer
// is either the parser's own or none. At 50,000 pods the YAML parser was
// two thirds of `flowgate apply`'s CPU (docs/benchmarks.md, "Beside OVN").
func fastYAMLToJSON(data []byte) ([]byte, bool) {
	p := blockParser{}
	if !p.split(data) || len(p.lines) == 0 {
		return nil, false
	}
	root, ok := p.block(p.lines[0].indent)
	if !ok || p.pos != len(p.lines) {
		return nil, false
	}
	// Objects keep their JSON (Object.Document) as long as the agent
	// runs: it is returned at its exact size, not in a buffer the size
	// of the YAML.
	var scratch [4096]byte
	return bytes.Clone(root.appendJSON(scratch[:0])), true
}

// contentLine is one line with content: its indentation and its text with
// trailing spaces cut.
type contentLine struct {
	indent int
	text   string
}

// blockParser parses a document's content lines from pos on.
type blockParser struct {
	lines []contentLine
	pos   int
	// keys and values are stacks the mapping and sequence being parsed
	// collect their entries on; each node gets a copy of its own at its
	// exact size (growing every node's slices was most of the parser's
	// allocations).
	keys   []string
	values []yamlNode
}

// split keeps the lines with content. Tabs, carriage returns, control
// characters and non-ASCII bytes (which YAML may read as line breaks) make
// it refuse.
func (p *blockParser) split(doc []byte) bool {
	data := string(doc) // one copy; every line, key and scalar is a substring of it
	p.lines = make([]contentLine, 0, strings.Count(data, "\n")+1)
	for len(data) > 0 {
		end := strings.IndexByte(data, '\n')
		line := data
		if end >= 0 {
			line, data = data[:end], data[end+1:]
		} else {
			data = ""
		}
		for i := 0; i < len(line); i++ {
			if c := line[i]; c < 0x20 || c >= 0x7f {
				return false
			}
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		text := strings.TrimRight(line[indent:], " ")
		if text == "" || text[0] == '#' {
			continue
		}
		if strings.HasPrefix(text, "---") || strings.HasPrefix(text, "...") || text[0] == '%' {
			return false // document markers and directives
		}
		p.lines = append(p.lines, contentLine{indent: indent, text: text})
	}
	return true
}

// yamlNode is a parsed value: a mapping (keys, values), a sequence
// (values) or a scalar already in its JSON form.
type yamlNode struct {
	kind   byte // 'm', 's', 'v' (json is the value's JSON) or 'q' (json is a string that needs no escaping, to be quoted)
	keys   []string
	values []yamlNode
	json   string
}

var jsonNull = yamlNode{kind: 'v', json: "null"}

// block parses the node whose first line is at pos, at indent.
func (p *blockParser) block(indent int) (yamlNode, bool) {
	if isSeqItem(p.lines[p.pos].text) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// mapping parses the entries at indent from pos on.
func (p *blockParser) mapping(indent int) (yamlNode, bool) {
	kb, vb := len(p.keys), len(p.values)
	defer func() { p.keys, p.values = p.keys[:kb], p.values[:vb] }()
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return yamlNode{}, false
		}
		if isSeqItem(l.text) {
			break // a sequence at its key's indent belongs to the caller
		}
		key, rest, ok := splitKey(l.text)
		if !ok || slices.Contains(p.keys[kb:], key) {
			return yamlNode{}, false
		}
		p.pos++
		var value yamlNode
		if rest == "" {
			value, ok = p.nested(indent, true)
		} else {
			value, ok = scalarNode(rest)
			ok = ok && !p.deeper(indent)
		}
		if !ok {
			return yamlNode{}, false
		}
		p.keys = append(p.keys, key)
		p.values = append(p.values, value)
	}
	return yamlNode{kind: 'm', keys: slices.Clone(p.keys[kb:]), values: slices.Clone(p.values[vb:])}, true
}

// nested parses the value of a key or item with nothing after it on its
// line (parent is the key's or the dash's indent): an indented block, a
// sequence at the key's own indent (sameIndentSeq), or null.
func (p *blockParser) nested(parent int, sameIndentSeq bool) (yamlNode, bool) {
	if p.pos == len(p.lines) {
		return jsonNull, true
	}
	l := p.lines[p.pos]
	switch {
	case l.indent > parent:
		return p.block(l.indent)
	case l.indent == parent && sameIndentSeq && isSeqItem(l.text):
		return p.sequence(parent)
	}
	return jsonNull, true
}

// deeper: the next line is indented under the current one although that
// line's value was complete (a continued plain scalar, or an error).
func (p *blockParser) deeper(indent int) bool {
	return p.pos < len(p.lines) && p.lines[p.pos].indent > indent
}

// sequence parses the items at indent from pos on.
func (p *blockParser) sequence(indent int) (yamlNode, bool) {
	vb := len(p.values)
	defer func() { p.values = p.values[:vb] }()
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent || l.indent == indent && !isSeqItem(l.text) {
			break
		}
		if l.indent > indent {
			return yamlNode{}, false
		}
		var item yamlNode
		ok := true
		if l.text == "-" {
			p.pos++
			item, ok = p.nested(indent, false)
		} else {
			rest := l.text[2:]
			col := indent + 2
			for rest != "" && rest[0] == ' ' {
				rest, col = rest[1:], col+1
			}
			switch _, _, isKey := splitKey(rest); {
			case isSeqItem(rest):
				return yamlNode{}, false
			case isKey:
				// "- key: value" opens a mapping at the key's column.
				p.lines[p.pos] = contentLine{indent: col, text: rest}
				item, ok = p.mapping(col)
			default:
				p.pos++
				item, ok = scalarNode(rest)
				ok = ok && !p.deeper(indent)
			}
		}
		if !ok {
			return yamlNode{}, false
		}
		p.values = append(p.values, item)
	}
	return yamlNode{kind: 's', values: slices.Clone(p.values[vb:])}, true
}

// splitKey splits "key: value" and "key:" with a plain key of letters,
// digits and ._/- that begins with a letter and resolves to a string.
func splitKey(text string) (key, rest string, ok bool) {
	i := 0
	for i < len(text) && isKeyByte(text[i]) {
		i++
	}
	if i == 0 || i == len(text) || text[i] != ':' || !isLetter(text[0]) {
		return "", "", false
	}
	key = text[:i]
	switch {
	case i+1 == len(text):
	case text[i+1] == ' ':
		rest = strings.TrimLeft(text[i+1:], " ")
	default:
		return "", "", false
	}
	if _, special := specialWord(key); special {
		return "", "", false
	}
	return key, rest, true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isKeyByte(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-'
}

// yamlSpecialWords are the plain scalars go-yaml v2 resolves to something
// other than a string by looking them up (resolve.go's resolveMap):
// booleans, null, infinities, NaN and the merge key.
var yamlSpecialWords = map[string]string{}

func init() {
	for json, words := range map[string][]string{
		"true":  {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"},
		"false": {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"},
		"null":  {"~", "null", "Null", "NULL"},
		"":      {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<"},
	} {
		for _, w := range words {
			yamlSpecialWords[w] = json
		}
	}
}

// specialWord looks s up in yamlSpecialWords, only when its first
// character is one a special word starts with.
func specialWord(s string) (string, bool) {
	switch s[0] {
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~', '.', '+', '-', '<':
		json, ok := yamlSpecialWords[s]
		return json, ok
	}
	return "", false
}

// yamlStyleFloat is go-yaml v2's test for a float (resolve.go's
// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`), without the
// regexp engine: it runs on every IP address of the input.
func yamlStyleFloat(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	} else {
		if digits() == 0 {
			return false
		}
		if i < len(s) && s[i] == '.' {
			i++
			digits()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// scalarNode is the JSON of a one-line scalar, or false when it is not one
// this subset resolves with certainty.
func scalarNode(text string) (yamlNode, bool) {
	switch text[0] {
	case '"':
		if len(text) < 2 || text[len(text)-1] != '"' || strings.ContainsAny(text[1:len(text)-1], `"\`) {
			return yamlNode{}, false
		}
		return stringNode(text[1 : len(text)-1]), true
	case '\'':
		if len(text) < 2 || text[len(text)-1] != '\'' {
			return yamlNode{}, false
		}
		inner := text[1 : len(text)-1]
		s := strings.ReplaceAll(inner, "''", "'")
		if strings.Count(inner, "'") != 2*strings.Count(s, "'") {
			return yamlNode{}, false // a lone quote ends the scalar early
		}
		return stringNode(s), true
	case '{', '[':
		switch text {
		case "{}":
			return yamlNode{kind: 'm'}, true
		case "[]":
			return yamlNode{kind: 's'}, true
		}
		return yamlNode{}, false
	case '?', ':', ',', ']', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return yamlNode{}, false
	case '-':
		if len(text) == 1 || text[1] == ' ' {
			return yamlNode{}, false
		}
	}
	if strings.Contains(text, ": ") || strings.Contains(text, " #") || strings.HasSuffix(text, ":") {
		return yamlNode{}, false
	}
	if json, special := specialWord(text); special {
		if json == "" {
			return yamlNode{}, false
		}
		return yamlNode{kind: 'v', json: json}, true
	}
	switch c := text[0]; {
	case c == '.':
		if _, err := strconv.ParseFloat(text, 64); err == nil {
			return yamlNode{}, false
		}
	case c >= '0' && c <= '9' || c == '-' || c == '+':
		return numberLike(text)
	}
	return stringNode(text), true
}

// numberLike resolves a plain scalar starting with a digit or a sign as
// go-yaml v2 does, where that is certain: a canonical decimal integer, or
// a string that cannot be a timestamp, an integer or a float.
func numberLike(text string) (yamlNode, bool) {
	i := 0
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	if i == 4 && i < len(text) && text[i] == '-' {
		return yamlNode{}, false // may be a timestamp
	}
	plain := strings.ReplaceAll(text, "_", "")
	if v, err := strconv.ParseInt(plain, 0, 64); err == nil {
		if plain != text || strconv.FormatInt(v, 10) != text {
			return yamlNode{}, false // 0x10, 010, +1, 1_000, -0
		}
		return yamlNode{kind: 'v', json: text}, true
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return yamlNode{}, false
	}
	if yamlStyleFloat(plain) || strings.HasPrefix(plain, "0b") || strings.HasPrefix(plain, "-0b") {
		return yamlNode{}, false
	}
	return stringNode(text), true
}

// stringNode is s as encoding/json writes it.
func stringNode(s string) yamlNode {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return yamlNode{kind: 'v', json: string(b)}
		}
	}
	return yamlNode{kind: 'q', json: s}
}

// appendJSON writes n as json.Marshal writes what sigs.k8s.io/yaml makes
// of it: a mapping's keys sorted.
func (n *yamlNode) appendJSON(b []byte) []byte {
	switch n.kind {
	case 'm':
		order := make([]int, len(n.keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(x, y int) int { return strings.Compare(n.keys[x], n.keys[y]) })
		b = append(b, '{')
		for j, i := range order {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, n.keys[i]...) // key bytes need no escaping (splitKey)
			b = append(b, '"', ':')
			b = n.values[i].appendJSON(b)
		}
		return append(b, '}')
	case 's':
		b = append(b, '[')
		for i := range n.values {
			if i > 0 {
				b = append(b, ',')
			}
			b = n.values[i].appendJSON(b)
		}
		return append(b, ']')
	case 'q':
		b = append(b, '"')
		b = append(b, n.json...)
		return append(b, '"')
	}
	return append(b, n.json...)
}
