package decode

import (
	"bytes"
	"encoding/json"
)

// asJSON returns a document that is already JSON — valid, with no
// duplicate member names and only whole numbers (the YAML parser reads
// 80.0 and 1e2 as the whole numbers they are; encoding/json refuses them
// for an integer field) — as it is, so that it is decoded without the
// YAML parser (which is most of the time of decoding JSON through YAML,
// and 2–3 µs per object more for nothing). Anything else, including
// broken JSON, goes through the YAML parser as before, which gives the
// same objects for JSON input and words its errors the way users know.
func asJSON(doc []byte) ([]byte, bool) {
	js := bytes.TrimSpace(doc)
	if len(js) == 0 || (js[0] != '{' && js[0] != '[') {
		return nil, false
	}
	if !json.Valid(js) || !plainJSON(js) {
		return nil, false
	}
	return js, true
}

// plainJSON reports whether js (valid JSON) has no object that names a
// member twice (which the strict YAML parser refuses and encoding/json
// silently resolves to the last one) and no number with a fraction or an
// exponent.
func plainJSON(js []byte) bool {
	type object struct {
		keys map[string]struct{}
		// first is the only key so far, kept without a map: most objects
		// are small and most keys are seen once.
		first  []byte
		n      int
		inKey  bool
		isList bool
	}
	var stack []object
	for i := 0; i < len(js); i++ {
		switch c := js[i]; c {
		case '{':
			stack = append(stack, object{inKey: true})
		case '[':
			stack = append(stack, object{isList: true})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; top >= 0 && !stack[top].isList {
				stack[top].inKey = true
			}
		case '.', 'e', 'E':
			// Outside strings, only numbers have dots, and exponents
			// follow a digit (true and false have an e after a letter).
			if c == '.' || (i > 0 && js[i-1] >= '0' && js[i-1] <= '9') {
				return false
			}
		case '"':
			end := stringEnd(js, i)
			if top := len(stack) - 1; top >= 0 && stack[top].inKey {
				o := &stack[top]
				o.inKey = false
				key := js[i+1 : end]
				if bytes.IndexByte(key, '\\') >= 0 {
					// Escapes can spell one name two ways: compare the
					// decoded names.
					var s string
					if json.Unmarshal(js[i:end+1], &s) == nil {
						key = []byte(s)
					}
				}
				switch {
				case o.n == 0:
					o.first = key
				case o.n == 1:
					if bytes.Equal(o.first, key) {
						return false
					}
					o.keys = map[string]struct{}{string(o.first): {}, string(key): {}}
				default:
					if _, dup := o.keys[string(key)]; dup {
						return false
					}
					o.keys[string(key)] = struct{}{}
				}
				o.n++
			}
			i = end
		}
	}
	return true
}

// stringEnd is the index of the quote closing the JSON string that opens
// at js[start].
func stringEnd(js []byte, start int) int {
	for i := start + 1; i < len(js); i++ {
		switch js[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(js) - 1
}
