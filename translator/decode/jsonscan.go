package decode

import (
	"bytes"
	"strings"
)

// The scanners here read JSON that is known to be valid (a document asJSON
// took, or the YAML parser's output) without decoding it: the header of
// every object and the items of a List are found in one pass over their
// bytes, where encoding/json would validate and copy them again. They
// report false for anything they do not read exactly as encoding/json
// would (escapes, names that differ from a field's only in case, values
// of another type), and the caller then asks encoding/json.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(js []byte, i int) int {
	for i < len(js) {
		switch js[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// valueEnd returns the index just after the JSON value starting at i.
func valueEnd(js []byte, i int) int {
	switch js[i] {
	case '"':
		return stringEnd(js, i) + 1
	case '{', '[':
		depth := 0
		for ; i < len(js); i++ {
			switch js[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			case '"':
				i = stringEnd(js, i)
			}
		}
		return len(js)
	}
	for ; i < len(js); i++ {
		switch js[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}

// members calls visit with the name and value of every member of the
// object at js[i] (which must be '{'), until visit returns false. It
// reports false when a name has escapes.
func members(js []byte, i int, visit func(name, value []byte) bool) bool {
	i = skipSpace(js, i+1)
	for i < len(js) && js[i] != '}' {
		end := stringEnd(js, i)
		name := js[i+1 : end]
		if bytes.IndexByte(name, '\\') >= 0 {
			return false
		}
		i = skipSpace(js, end+1) + 1 // past ':'
		i = skipSpace(js, i)
		vend := valueEnd(js, i)
		if !visit(name, js[i:vend]) {
			return false
		}
		i = skipSpace(js, vend)
		if i < len(js) && js[i] == ',' {
			i = skipSpace(js, i+1)
		}
	}
	return true
}

// plainString returns the text of a JSON string value without escapes.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return "", false
	}
	return string(v[1 : len(v)-1]), true
}

// field matches a member name against a field's JSON name the way
// encoding/json does: exactly, or (then the scanner gives up) in another
// case.
func field(name []byte, want string, matched *bool, ok *bool) bool {
	if string(name) == want {
		*matched = true
		return true
	}
	if strings.EqualFold(string(name), want) {
		*ok = false
	}
	return false
}

// scanHeader reads the header of the object js, as json.Unmarshal into
// a header would.
func scanHeader(js []byte) (header, bool) {
	var h header
	if len(js) == 0 || js[0] != '{' {
		return h, false
	}
	ok := true
	str := func(v []byte, into *string) {
		s, plain := plainString(v)
		if !plain {
			ok = false
		}
		*into = s
	}
	scanned := members(js, 0, func(name, v []byte) bool {
		var m bool
		switch {
		case field(name, "apiVersion", &m, &ok) && m:
			str(v, &h.APIVersion)
		case field(name, "kind", &m, &ok) && m:
			str(v, &h.Kind)
		case field(name, "metadata", &m, &ok) && m:
			if len(v) == 0 || v[0] != '{' {
				ok = false
				break
			}
			if !members(v, 0, func(name, v []byte) bool {
				var m bool
				switch {
				case field(name, "name", &m, &ok) && m:
					str(v, &h.Metadata.Name)
				case field(name, "namespace", &m, &ok) && m:
					str(v, &h.Metadata.Namespace)
				}
				return ok
			}) {
				ok = false
			}
		}
		return ok
	})
	return h, ok && scanned
}

// scanItems returns the items of the List js, as json.Unmarshal into a
// struct with Items []json.RawMessage would.
func scanItems(js []byte) ([][]byte, bool) {
	var items [][]byte
	if len(js) == 0 || js[0] != '{' {
		return nil, false
	}
	ok := true
	scanned := members(js, 0, func(name, v []byte) bool {
		var m bool
		if !field(name, "items", &m, &ok) || !m {
			return ok
		}
		if len(v) == 0 || v[0] != '[' {
			ok = false
			return false
		}
		items = nil // the last of two wins, as in encoding/json
		i := skipSpace(v, 1)
		for i < len(v) && v[i] != ']' {
			end := valueEnd(v, i)
			items = append(items, v[i:end])
			i = skipSpace(v, end)
			if i < len(v) && v[i] == ',' {
				i = skipSpace(v, i+1)
			}
		}
		return true
	})
	return items, ok && scanned
}
